package dev.grpo4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.model.ReferenceForward.Config;
import dev.grpo4j.testing.Close;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Pins {@link ReferenceForward} to the Hugging Face semantics on its own, before any model implementation is
 * compared with it: hand-computed norm and rotary values, an independent one-token forward, and invariances
 * (causality, padding, grouped heads, tying, zero biases) that a wrong index or mask would break.
 */
class ReferenceForwardTest {
  private static final double ATOL = 1e-12;
  private static final double RTOL = 1e-10;

  /** Llama-like by default: 2 layers, 4 query heads over 2 key/value heads, untied, no biases. */
  private static Config config(int numHeads, int numKvHeads, boolean tied, boolean bias) {
    return new Config(11, 16, 12, 2, numHeads, numKvHeads, 16 / numHeads, 1e-6, 10000, tied, bias);
  }

  private static final Config GQA = config(4, 2, false, false);

  @Test
  void rmsNormOfAHandComputedVector() {
    // mean(x^2) = (1 + 4 + 9 + 16) / 4 = 7.5; with eps 0.5 the scale is exactly 1/sqrt(8) = 1/(2 sqrt 2).
    double[] out = ReferenceForward.rmsNorm(new double[] {1, 2, 3, 4}, new double[] {1, 1, 2, 0.5}, 0.5);
    double r = 1 / Math.sqrt(2);
    assertClose(new double[] {r / 2, r, 3 * r, r}, out, "rmsNorm");
  }

  @Test
  void inverseFrequenciesFollowThetaPowers() {
    assertClose(new double[] {1, 0.1, 0.01, 0.001}, ReferenceForward.inverseFrequencies(8, 10000), "inv_freq");
  }

  @Test
  void rotaryAtPositionZeroIsTheIdentity() {
    double[] x = gaussian(new Random(1), 16);
    double[] rotated = x.clone();
    ReferenceForward.applyRotary(rotated, 8, 8, 0, ReferenceForward.inverseFrequencies(8, 10000));
    assertEquals(Arrays.toString(x), Arrays.toString(rotated));
  }

  @Test
  void rotaryTurnsHalfPairsByPositionTimesFrequency() {
    // hd = 4, theta = 10000: inv_freq = [1, 0.01]; at position 1 the pair (x0, x2) turns by 1 rad and (x1, x3) by
    // 0.01 rad: x0' = x0 cos1 - x2 sin1, x2' = x2 cos1 + x0 sin1, and likewise for (x1, x3) with 0.01.
    double[] x = {1, 2, 3, 4};
    ReferenceForward.applyRotary(x, 0, 4, 1, ReferenceForward.inverseFrequencies(4, 10000));
    assertClose(new double[] {-1.9841106485555495, 1.959900667496664, 2.4623779024123156, 4.019799668334994}, x,
        "rotary hd=4 pos=1");
  }

  @Test
  void rotaryPreservesEachPairNormAndTurnsItByTheExpectedAngle() {
    int hd = 8;
    double[] invFreq = ReferenceForward.inverseFrequencies(hd, 500);
    Random rng = new Random(2);
    for (long position : new long[] {1, 7, 123}) {
      double[] x = gaussian(rng, hd);
      double[] y = x.clone();
      ReferenceForward.applyRotary(y, 0, hd, position, invFreq);
      for (int j = 0; j < hd / 2; j++) {
        double before = Math.hypot(x[j], x[j + hd / 2]);
        double after = Math.hypot(y[j], y[j + hd / 2]);
        assertClose(new double[] {before}, new double[] {after}, "norm of pair " + j + " at " + position);
        // Compare as unit vectors so angle wrap-around does not matter.
        double turned = Math.atan2(x[j + hd / 2], x[j]) + position * invFreq[j];
        assertClose(new double[] {Math.cos(turned), Math.sin(turned)},
            new double[] {y[j] / after, y[j + hd / 2] / after}, "angle of pair " + j + " at " + position);
      }
    }
  }

  @Test
  void oneTokenAttentionIsOProjOfVWithGroupedHeadsAndBiases() {
    // With one key the softmax weight is 1, so each query head outputs its key/value head's v, whatever q and k are.
    // headDim 4 with hidden 6 also checks that o_proj reads numHeads * headDim (16) inputs, not hiddenSize.
    Config c = new Config(7, 6, 5, 1, 4, 2, 4, 1e-5, 10000, false, true);
    Map<String, double[]> w = ReferenceForward.randomWeights(c, 3, 0.5);
    long token = 4;
    double[] x = Arrays.copyOfRange(w.get("model.embed_tokens.weight"), (int) token * 6, (int) token * 6 + 6);
    double[] n1 = norm(x, w.get("model.layers.0.input_layernorm.weight"), c.rmsNormEps());
    double[] v = matVec(w.get("model.layers.0.self_attn.v_proj.weight"), n1, 6);
    double[] vBias = w.get("model.layers.0.self_attn.v_proj.bias");
    double[] heads = new double[4 * 4];
    for (int head = 0; head < 4; head++) {
      for (int d = 0; d < 4; d++) {
        int kv = (head / 2) * 4 + d;
        heads[head * 4 + d] = v[kv] + vBias[kv];
      }
    }
    double[] h = plus(x, matVec(w.get("model.layers.0.self_attn.o_proj.weight"), heads, 16));
    double[] n2 = norm(h, w.get("model.layers.0.post_attention_layernorm.weight"), c.rmsNormEps());
    double[] gate = matVec(w.get("model.layers.0.mlp.gate_proj.weight"), n2, 6);
    double[] up = matVec(w.get("model.layers.0.mlp.up_proj.weight"), n2, 6);
    double[] act = new double[5];
    for (int i = 0; i < 5; i++) {
      act[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
    }
    double[] out = plus(h, matVec(w.get("model.layers.0.mlp.down_proj.weight"), act, 5));
    double[] expected = matVec(w.get("lm_head.weight"), norm(out, w.get("model.norm.weight"), c.rmsNormEps()), 6);

    assertClose(expected, ReferenceForward.logits(c, w, new long[][] {{token}}, null)[0][0], "T=1 logits");
    // The position only enters through the rotation of q and k, which one key cannot feel.
    assertClose(expected, ReferenceForward.logits(c, w, new long[][] {{token}}, null, new long[][] {{9}})[0][0],
        "T=1 logits at position 9");
  }

  @Test
  void laterTokensNeverChangeEarlierLogits() {
    Map<String, double[]> w = ReferenceForward.randomWeights(GQA, 4, 0.5);
    long[] ids = {1, 5, 9, 2, 7, 3};
    double[][] base = ReferenceForward.logits(GQA, w, new long[][] {ids}, null)[0];
    long[] changed = ids.clone();
    changed[4] = 10;
    double[][] after = ReferenceForward.logits(GQA, w, new long[][] {changed}, null)[0];
    for (int t = 0; t < 4; t++) {
      assertClose(base[t], after[t], "position " + t);
    }
    assertTrue(maxAbsDiff(base[4], after[4]) > 1e-3, "the changed token must change its own logits");
    assertTrue(maxAbsDiff(base[5], after[5]) > 1e-6, "the changed token must reach the next position");
  }

  @Test
  void rightPaddedTokensNeverChangeRealLogits() {
    Map<String, double[]> w = ReferenceForward.randomWeights(GQA, 5, 0.5);
    long[][] ids = {{1, 5, 9, 2, 0, 0}, {1, 5, 9, 2, 6, 8}};
    int[][] mask = {{1, 1, 1, 1, 0, 0}, {1, 1, 1, 1, 0, 0}};
    double[][][] out = ReferenceForward.logits(GQA, w, ids, mask);
    double[][] unpadded = ReferenceForward.logits(GQA, w, new long[][] {{1, 5, 9, 2}}, null)[0];
    for (int t = 0; t < 4; t++) {
      assertClose(out[0][t], out[1][t], "padding ids, position " + t);
      assertClose(unpadded[t], out[0][t], "against the unpadded row, position " + t);
    }
  }

  @Test
  void leftPaddingWithMaskPositionsMatchesTheUnpaddedRow() {
    Map<String, double[]> w = ReferenceForward.randomWeights(GQA, 6, 0.5);
    long[][] ids = {{3, 3, 1, 5, 9, 2}, {8, 0, 1, 5, 9, 2}};
    int[][] mask = {{0, 0, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}};
    long[][] positions = ReferenceForward.positionsFromMask(mask);
    assertEquals("[1, 1, 0, 1, 2, 3]", Arrays.toString(positions[0]));
    double[][][] out = ReferenceForward.logits(GQA, w, ids, mask, positions);
    double[][] unpadded = ReferenceForward.logits(GQA, w, new long[][] {{1, 5, 9, 2}}, null)[0];
    for (int t = 0; t < 4; t++) {
      assertClose(unpadded[t], out[0][t + 2], "against the unpadded row, position " + t);
      assertClose(out[0][t + 2], out[1][t + 2], "padding ids, position " + t);
    }
    for (double[] padded : new double[][] {out[0][0], out[0][1]}) {
      assertTrue(Arrays.stream(padded).allMatch(Double::isFinite), "a query with no key to attend to stays finite");
    }
  }

  @Test
  void shiftingAllPositionsChangesOnlyRounding() {
    // Rotary scores depend only on position differences, which is why left padding with the default 0..T-1
    // positions (what transformers does without position_ids) agrees with mask-aware positions on real tokens.
    Map<String, double[]> w = ReferenceForward.randomWeights(GQA, 7, 0.5);
    long[][] ids = {{1, 5, 9, 2, 4}};
    double[][] base = ReferenceForward.logits(GQA, w, ids, null)[0];
    double[][] shifted = ReferenceForward.logits(GQA, w, ids, null, new long[][] {{17, 18, 19, 20, 21}})[0];
    for (int t = 0; t < 5; t++) {
      assertClose(base[t], shifted[t], 1e-10, 1e-9, "position " + t);
    }
    double[][] shuffled = ReferenceForward.logits(GQA, w, ids, null, new long[][] {{0, 2, 1, 3, 4}})[0];
    assertTrue(maxAbsDiff(base[2], shuffled[2]) > 1e-6, "positions must matter when their differences change");
  }

  @Test
  void groupedKeyValueHeadsEqualDuplicatedHeads() {
    for (boolean bias : new boolean[] {false, true}) {
      Config gqa = config(4, 2, false, bias);
      Config mha = config(4, 4, false, bias);
      Map<String, double[]> w = ReferenceForward.randomWeights(gqa, 8, 0.5);
      Map<String, double[]> expanded = new LinkedHashMap<>(w);
      for (String name : w.keySet()) {
        if (name.contains("k_proj") || name.contains("v_proj")) {
          int block = name.endsWith(".bias") ? gqa.headDim() : gqa.headDim() * gqa.hiddenSize();
          expanded.put(name, repeatHeads(w.get(name), 2, block));
        }
      }
      long[][] ids = {{1, 5, 9, 2, 7, 3}, {4, 4, 0, 10, 6, 2}};
      int[][] mask = {{1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0}};
      double[][][] a = ReferenceForward.logits(gqa, w, ids, mask);
      double[][][] b = ReferenceForward.logits(mha, expanded, ids, mask);
      for (int t = 0; t < 6; t++) {
        assertClose(b[0][t], a[0][t], "bias " + bias + ", row 0, position " + t);
      }
      for (int t = 0; t < 4; t++) {
        assertClose(b[1][t], a[1][t], "bias " + bias + ", row 1, position " + t);
      }
    }
  }

  @Test
  void untiedHeadEqualToTheEmbeddingIsTied() {
    Config tied = config(4, 2, true, false);
    Map<String, double[]> w = ReferenceForward.randomWeights(tied, 9, 0.5);
    Map<String, double[]> untiedWeights = new LinkedHashMap<>(w);
    untiedWeights.put("lm_head.weight", w.get("model.embed_tokens.weight").clone());
    long[][] ids = {{1, 5, 9, 2}};
    double[][] a = ReferenceForward.logits(tied, w, ids, null)[0];
    double[][] b = ReferenceForward.logits(GQA, untiedWeights, ids, null)[0];
    for (int t = 0; t < 4; t++) {
      assertClose(b[t], a[t], "position " + t);
    }
  }

  @Test
  void zeroBiasesEqualNoBiases() {
    Config withBias = config(4, 2, false, true);
    Map<String, double[]> w = ReferenceForward.randomWeights(GQA, 10, 0.5);
    Map<String, double[]> zeroBiases = new LinkedHashMap<>(w);
    for (String name : ReferenceForward.parameterNames(withBias)) {
      if (name.endsWith(".bias")) {
        zeroBiases.put(name, new double[(int) ReferenceForward.numel(ReferenceForward.shape(withBias, name))]);
      }
    }
    long[][] ids = {{1, 5, 9, 2}};
    double[][] a = ReferenceForward.logits(GQA, w, ids, null)[0];
    double[][] b = ReferenceForward.logits(withBias, zeroBiases, ids, null)[0];
    for (int t = 0; t < 4; t++) {
      assertClose(a[t], b[t], "position " + t);
    }
    Map<String, double[]> biased = ReferenceForward.randomWeights(withBias, 10, 0.5);
    double[][] c = ReferenceForward.logits(withBias, biased, ids, null)[0];
    assertTrue(maxAbsDiff(a[3], c[3]) > 1e-6, "nonzero biases must change the logits");
  }

  @Test
  void parameterNamesFollowModuleRegistrationOrder() {
    Config c = new Config(11, 8, 12, 1, 4, 2, 2, 1e-6, 10000, false, true);
    assertEquals(List.of(
        "model.embed_tokens.weight",
        "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.q_proj.bias",
        "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.k_proj.bias",
        "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.v_proj.bias",
        "model.layers.0.self_attn.o_proj.weight",
        "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight",
        "model.layers.0.mlp.down_proj.weight",
        "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
        "model.norm.weight",
        "lm_head.weight"), ReferenceForward.parameterNames(c));
    List<String> tiedTwoLayers = ReferenceForward.parameterNames(config(4, 2, true, false));
    assertEquals(1 + 2 * 9 + 1, tiedTwoLayers.size());
    assertEquals("model.layers.1.self_attn.q_proj.weight", tiedTwoLayers.get(10));
    assertEquals("model.norm.weight", tiedTwoLayers.getLast());
  }

  @Test
  void shapesAreTheHuggingFaceOnes() {
    // headDim 2 with 4 heads and hidden 8 makes q/o differ from the hidden size, as in Qwen3-style configs.
    Config c = new Config(11, 8, 12, 1, 4, 2, 2, 1e-6, 10000, false, true);
    Map<String, String> expected = new LinkedHashMap<>();
    expected.put("model.embed_tokens.weight", "[11, 8]");
    expected.put("model.layers.0.self_attn.q_proj.weight", "[8, 8]");
    expected.put("model.layers.0.self_attn.q_proj.bias", "[8]");
    expected.put("model.layers.0.self_attn.k_proj.weight", "[4, 8]");
    expected.put("model.layers.0.self_attn.v_proj.bias", "[4]");
    expected.put("model.layers.0.self_attn.o_proj.weight", "[8, 8]");
    expected.put("model.layers.0.mlp.gate_proj.weight", "[12, 8]");
    expected.put("model.layers.0.mlp.down_proj.weight", "[8, 12]");
    expected.put("model.layers.0.post_attention_layernorm.weight", "[8]");
    expected.put("lm_head.weight", "[11, 8]");
    expected.forEach((name, shape) -> assertEquals(shape, Arrays.toString(ReferenceForward.shape(c, name)), name));
    Config wide = new Config(11, 8, 12, 1, 4, 2, 6, 1e-6, 10000, false, false);
    assertEquals("[24, 8]", Arrays.toString(ReferenceForward.shape(wide, "model.layers.0.self_attn.q_proj.weight")));
    assertEquals("[8, 24]", Arrays.toString(ReferenceForward.shape(wide, "model.layers.0.self_attn.o_proj.weight")));
    assertThrows(IllegalArgumentException.class, () -> ReferenceForward.shape(c, "model.layers.1.mlp.up_proj.weight"));
    assertThrows(IllegalArgumentException.class, () -> ReferenceForward.shape(c, "model.layers.0.mlp.up_proj.bias"));
  }

  @Test
  void randomWeightsCoverEveryNameAndAreSeeded() {
    Config c = config(4, 2, false, true);
    Map<String, double[]> w = ReferenceForward.randomWeights(c, 11, 0.02);
    assertEquals(ReferenceForward.parameterNames(c), new ArrayList<>(w.keySet()));
    for (String name : w.keySet()) {
      assertEquals(ReferenceForward.numel(ReferenceForward.shape(c, name)), w.get(name).length, name);
      if (name.endsWith("norm.weight")) {
        assertTrue(Arrays.stream(w.get(name)).allMatch(x -> x >= 0.9 && x <= 1.1), name);
      } else {
        double rms = Math.sqrt(Arrays.stream(w.get(name)).map(x -> x * x).average().orElseThrow());
        assertTrue(rms > 0.005 && rms < 0.05, name + " rms " + rms);
      }
    }
    Map<String, double[]> again = ReferenceForward.randomWeights(c, 11, 0.02);
    w.forEach((name, values) -> assertEquals(Arrays.toString(values), Arrays.toString(again.get(name)), name));
  }

  @Test
  void wrongWeightsAreRejected() {
    Map<String, double[]> w = ReferenceForward.randomWeights(GQA, 12, 0.5);
    long[][] ids = {{1, 2}};
    Map<String, double[]> missing = new LinkedHashMap<>(w);
    missing.remove("model.layers.1.mlp.up_proj.weight");
    assertThrows(IllegalArgumentException.class, () -> ReferenceForward.logits(GQA, missing, ids, null));
    Map<String, double[]> shortened = new LinkedHashMap<>(w);
    shortened.put("model.norm.weight", new double[7]);
    assertThrows(IllegalArgumentException.class, () -> ReferenceForward.logits(GQA, shortened, ids, null));
    Map<String, double[]> extra = new LinkedHashMap<>(w);
    extra.put("model.layers.0.self_attn.o_proj.bias", new double[16]);
    assertThrows(IllegalArgumentException.class, () -> ReferenceForward.logits(GQA, extra, ids, null));
    assertThrows(IllegalArgumentException.class,
        () -> ReferenceForward.logits(GQA, w, new long[][] {{1, 11}}, null));
    assertThrows(IllegalArgumentException.class,
        () -> ReferenceForward.logits(GQA, w, ids, new int[][] {{1, 1, 1}}));
  }

  /**
   * Repeats each consecutive block of {@code block} values {@code times} times, so key/value head {@code j} becomes
   * heads {@code j * times .. j * times + times - 1}, the layout {@code repeat_kv} gives the query heads.
   */
  private static double[] repeatHeads(double[] values, int times, int block) {
    double[] out = new double[values.length * times];
    for (int head = 0; head < values.length / block; head++) {
      for (int r = 0; r < times; r++) {
        System.arraycopy(values, head * block, out, (head * times + r) * block, block);
      }
    }
    return out;
  }

  private static double[] norm(double[] x, double[] weight, double eps) {
    double mean = Arrays.stream(x).map(v -> v * v).average().orElseThrow();
    double[] out = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = weight[i] * x[i] / Math.sqrt(mean + eps);
    }
    return out;
  }

  private static double[] matVec(double[] rowMajor, double[] x, int in) {
    double[] y = new double[rowMajor.length / in];
    for (int o = 0; o < y.length; o++) {
      for (int i = 0; i < in; i++) {
        y[o] += rowMajor[o * in + i] * x[i];
      }
    }
    return y;
  }

  private static double[] plus(double[] a, double[] b) {
    double[] out = a.clone();
    for (int i = 0; i < out.length; i++) {
      out[i] += b[i];
    }
    return out;
  }

  private static double[] gaussian(Random rng, int n) {
    double[] x = new double[n];
    for (int i = 0; i < n; i++) {
      x[i] = rng.nextGaussian();
    }
    return x;
  }

  private static double maxAbsDiff(double[] a, double[] b) {
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs(a[i] - b[i]));
    }
    return max;
  }

  private static void assertClose(double[] reference, double[] actual, String what) {
    assertClose(reference, actual, ATOL, RTOL, what);
  }

  private static void assertClose(double[] reference, double[] actual, double atol, double rtol, String what) {
    Close.assertClose(what, actual, reference, atol, rtol);
  }
}
