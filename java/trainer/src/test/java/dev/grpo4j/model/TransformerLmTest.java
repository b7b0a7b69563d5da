package dev.grpo4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.testing.Close;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The libtorch decoder against {@link ReferenceForward}, the double-precision plain-Java forward of the same
 * Hugging Face architecture, on the same weights.
 */
@SuppressWarnings("try") // PointerScope and NoGradGuard act by existing
class TransformerLmTest {
  record Case(String name, ReferenceForward.Config reference, ObjectNode json) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Case> cases() {
    return Stream.of(
        make("llama GQA untied", "llama", new ReferenceForward.Config(67, 32, 48, 2, 4, 2, 8, 1e-5, 10000, false,
            false)),
        make("qwen2 biases tied", "qwen2", new ReferenceForward.Config(53, 24, 40, 2, 6, 2, 4, 1e-6, 1e6, true, true)),
        make("llama MHA head_dim != H/heads", "llama", new ReferenceForward.Config(31, 16, 20, 1, 2, 2, 12, 1e-6,
            500, false, false)),
        make("llama one layer one kv head", "llama", new ReferenceForward.Config(29, 12, 8, 1, 3, 1, 4, 1e-6, 10000,
            true, false)));
  }

  private static Case make(String name, String modelType, ReferenceForward.Config c) {
    ObjectNode json = JsonNodeFactory.instance.objectNode();
    json.put("model_type", modelType);
    json.put("vocab_size", c.vocabSize());
    json.put("hidden_size", c.hiddenSize());
    json.put("intermediate_size", c.intermediateSize());
    json.put("num_hidden_layers", c.numLayers());
    json.put("num_attention_heads", c.numHeads());
    json.put("num_key_value_heads", c.numKvHeads());
    json.put("head_dim", c.headDim());
    json.put("rms_norm_eps", c.rmsNormEps());
    json.put("rope_theta", c.ropeTheta());
    json.put("max_position_embeddings", 64);
    json.put("tie_word_embeddings", c.tieWordEmbeddings());
    json.put("torch_dtype", "float32");
    return new Case(name, c, json);
  }

  /** The model with the reference weights (rounded to float32, and the reference then uses the rounded values). */
  static TransformerLm withWeights(Case k, Map<String, double[]> weights) {
    TransformerLm model = Models.uninitialised(ModelConfig.fromJson(k.json()), ScalarType.Float);
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      for (Map.Entry<String, Tensor> e : model.namedParameters().entrySet()) {
        double[] w = weights.get(e.getKey());
        float[] rounded = new float[w.length];
        for (int i = 0; i < w.length; i++) {
          rounded[i] = (float) w[i];
          w[i] = rounded[i];
        }
        e.getValue().copy_(HostTensors.floats(rounded, ReferenceForward.shape(k.reference(), e.getKey())));
      }
    }
    return model;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void parameterNamesAndOrderAreTransformers(Case k) {
    TransformerLm model = Models.random(ModelConfig.fromJson(k.json()), 1);
    List<String> expected = ReferenceForward.parameterNames(k.reference());
    assertEquals(expected, List.copyOf(model.namedParameters().keySet()));
    StringTensorDict lib = model.named_parameters(true);
    List<String> registered = new ArrayList<>();
    for (long i = 0; i < lib.size(); i++) {
      registered.add(lib.get(i).key().getString());
    }
    assertEquals(expected, registered, "libtorch's own module tree carries the same names in the same order");
    for (String name : expected) {
      assertArrayEquals(ReferenceForward.shape(k.reference(), name),
          model.namedParameters().get(name).sizes().vec().get(), name);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void logitsMatchTheDoublePrecisionReference(Case k) {
    Map<String, double[]> weights = ReferenceForward.randomWeights(k.reference(), 3, 0.3);
    TransformerLm model = withWeights(k, weights);
    long[][] ids = ids(k.reference().vocabSize(), 3, 9, 7);
    try (PointerScope scope = new PointerScope()) {
      double[] actual = HostTensors.toDoubles(model.forward(HostTensors.longs(flat(ids), 3, 9)));
      double[] expected = flat(ReferenceForward.logits(k.reference(), weights, ids, null));
      Close.assertClose(k + " logits", actual, expected, 1e-4 * Close.maxAbs(expected), 1e-4);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void singlePositionMatchesTheReference(Case k) {
    Map<String, double[]> weights = ReferenceForward.randomWeights(k.reference(), 4, 0.3);
    TransformerLm model = withWeights(k, weights);
    long[][] ids = ids(k.reference().vocabSize(), 2, 1, 8);
    try (PointerScope scope = new PointerScope()) {
      double[] actual = HostTensors.toDoubles(model.forward(HostTensors.longs(flat(ids), 2, 1)));
      double[] expected = flat(ReferenceForward.logits(k.reference(), weights, ids, null));
      Close.assertClose(k + " T=1 logits", actual, expected, 1e-4 * Close.maxAbs(expected), 1e-4);
    }
  }

  @Test
  void paddingMaskMatchesTheReferenceOnRealTokens() {
    Case k = cases().findFirst().orElseThrow();
    Map<String, double[]> weights = ReferenceForward.randomWeights(k.reference(), 5, 0.3);
    TransformerLm model = withWeights(k, weights);
    int rows = 3;
    int seqLen = 8;
    long[][] ids = ids(k.reference().vocabSize(), rows, seqLen, 9);
    // Row 0 left-padded by 3, row 1 right-padded by 2, row 2 unpadded.
    int[][] mask = new int[rows][seqLen];
    for (int t = 0; t < seqLen; t++) {
      mask[0][t] = t < 3 ? 0 : 1;
      mask[1][t] = t < seqLen - 2 ? 1 : 0;
      mask[2][t] = 1;
    }
    long[] flatMask = new long[rows * seqLen];
    for (int r = 0; r < rows; r++) {
      for (int t = 0; t < seqLen; t++) {
        flatMask[r * seqLen + t] = mask[r][t];
      }
    }
    try (PointerScope scope = new PointerScope()) {
      double[] actual = HostTensors.toDoubles(model.forward(HostTensors.longs(flat(ids), rows, seqLen),
          HostTensors.longs(flatMask, rows, seqLen)));
      double[][][] expected = ReferenceForward.logits(k.reference(), weights, ids, mask);
      int vocab = k.reference().vocabSize();
      List<Double> a = new ArrayList<>();
      List<Double> e = new ArrayList<>();
      for (int r = 0; r < rows; r++) {
        for (int t = 0; t < seqLen; t++) {
          if (mask[r][t] == 1) {
            for (int v = 0; v < vocab; v++) {
              a.add(actual[(r * seqLen + t) * vocab + v]);
              e.add(expected[r][t][v]);
            }
          } else {
            for (int v = 0; v < vocab; v++) {
              assertTrue(Double.isFinite(actual[(r * seqLen + t) * vocab + v]), "padded position stays finite");
            }
          }
        }
      }
      double[] want = e.stream().mapToDouble(Double::doubleValue).toArray();
      Close.assertClose("masked logits on real tokens", a.stream().mapToDouble(Double::doubleValue).toArray(), want,
          1e-4 * Close.maxAbs(want), 1e-4);
    }
  }

  @Test
  void bfloat16ModelTracksTheFloat32Model() {
    Case k = cases().findFirst().orElseThrow();
    Map<String, double[]> weights = ReferenceForward.randomWeights(k.reference(), 6, 0.3);
    TransformerLm model = withWeights(k, weights);
    long[][] ids = ids(k.reference().vocabSize(), 2, 6, 10);
    try (PointerScope scope = new PointerScope()) {
      Tensor input = HostTensors.longs(flat(ids), 2, 6);
      double[] f32 = HostTensors.toDoubles(model.forward(input));
      model.to(ScalarType.BFloat16, false);
      for (Tensor p : model.namedParameters().values()) {
        assertEquals(ScalarType.BFloat16, p.scalar_type().intern(), "the named handles follow Module.to");
      }
      Tensor logits = model.forward(input);
      assertEquals(ScalarType.BFloat16, logits.scalar_type().intern());
      double[] bf16 = HostTensors.toDoubles(logits);
      Close.assertClose("bf16 logits", bf16, f32, 0.05 * Close.maxAbs(f32), 0.05);
    }
  }

  @Test
  void sameSeedSameWeightsAndGradientsReachEveryParameter() {
    ModelConfig config = ModelConfig.tiny("tiny-llama", 257);
    try (PointerScope scope = new PointerScope()) {
      TransformerLm a = Models.random(config, 42);
      TransformerLm b = Models.random(config, 42);
      TransformerLm c = Models.random(config, 43);
      Tensor wa = a.namedParameters().get("model.layers.1.mlp.up_proj.weight");
      assertArrayEquals(HostTensors.toDoubles(wa),
          HostTensors.toDoubles(b.namedParameters().get("model.layers.1.mlp.up_proj.weight")));
      assertNotEquals(HostTensors.toDoubles(wa)[0],
          HostTensors.toDoubles(c.namedParameters().get("model.layers.1.mlp.up_proj.weight"))[0]);
      a.forward(HostTensors.longs(new long[] {1, 2, 3, 4}, 1, 4)).sum().backward();
      for (Map.Entry<String, Tensor> e : a.namedParameters().entrySet()) {
        assertTrue(e.getValue().grad().defined(), e.getKey() + " gets a gradient");
      }
    }
  }

  @Test
  void badConfigurationsNameTheField() {
    ObjectNode json = cases().findFirst().orElseThrow().json().deepCopy();
    json.put("model_type", "gpt2");
    assertMessage(json, "model_type \"gpt2\"");
    json = cases().findFirst().orElseThrow().json().deepCopy();
    json.put("num_key_value_heads", 3);
    assertMessage(json, "num_key_value_heads = 3");
    json = cases().findFirst().orElseThrow().json().deepCopy();
    json.remove("hidden_size");
    assertMessage(json, "hidden_size is missing");
    json = cases().findFirst().orElseThrow().json().deepCopy();
    json.put("hidden_act", "gelu");
    assertMessage(json, "hidden_act \"gelu\"");
    json = cases().findFirst().orElseThrow().json().deepCopy();
    json.putObject("rope_scaling").put("rope_type", "yarn").put("factor", 4.0);
    assertMessage(json, "rope_scaling type \"yarn\"");
    json = cases().findFirst().orElseThrow().json().deepCopy();
    json.put("vocab_size", "many");
    assertMessage(json, "vocab_size must be an integer");
  }

  @Test
  void llama3RopeScalingKeepsHighFrequenciesAndSlowsLowOnes() {
    Rope rope = new Rope(500000, "llama3", 32, 1, 4, 8192);
    double[] plain = Rope.standard(500000).inverseFrequencies(64);
    double[] scaled = rope.inverseFrequencies(64);
    assertEquals(plain[0], scaled[0], 0, "wavelength 2*pi stays");
    assertEquals(plain[31] / 32, scaled[31], 1e-18, "the longest wavelength is slowed by the factor");
    for (int j = 0; j < 32; j++) {
      assertTrue(scaled[j] <= plain[j] && scaled[j] >= plain[j] / 32, "band " + j);
    }
  }

  private static void assertMessage(ObjectNode json, String fragment) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelConfig.fromJson(json));
    assertTrue(e.getMessage().contains(fragment), e.getMessage());
  }

  static long[][] ids(int vocab, int rows, int seqLen, long seed) {
    java.util.Random rng = new java.util.Random(seed);
    long[][] out = new long[rows][seqLen];
    for (long[] row : out) {
      for (int t = 0; t < seqLen; t++) {
        row[t] = rng.nextInt(vocab);
      }
    }
    return out;
  }

  static long[] flat(long[][] a) {
    return Stream.of(a).flatMapToLong(java.util.Arrays::stream).toArray();
  }

  static double[] flat(double[][][] a) {
    return Stream.of(a).flatMap(Stream::of).flatMapToDouble(java.util.Arrays::stream).toArray();
  }
}
