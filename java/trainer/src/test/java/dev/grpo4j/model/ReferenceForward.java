package dev.grpo4j.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A plain-Java, double-precision forward pass of a Hugging Face {@code LlamaForCausalLM} / {@code Qwen2ForCausalLM}
 * decoder, used by the tests as the ground truth that the libtorch model implementation is checked against. It
 * computes what transformers computes in eager attention, training mode (dropout 0, as both configs default to),
 * without a key/value cache and with the default (unscaled) rotary embedding. Everything is spelled out with arrays
 * and loops so that a reader can check it line by line against {@code modeling_llama.py}/{@code modeling_qwen2.py}.
 *
 * <p>Weights are a map from the exact Hugging Face parameter names (see {@link #parameterNames}) to row-major
 * arrays in the Hugging Face shapes (see {@link #shape}); a linear layer's weight is {@code [out, in]} and computes
 * {@code y = W x + b}.
 *
 * <p>Per layer: {@code h = x + o_proj(attention(rope(q), rope(k), v))} over {@code input_layernorm(x)}, then
 * {@code out = h + down(silu(gate(n)) * up(n))} with {@code n = post_attention_layernorm(h)}; after the last layer
 * {@code model.norm} and {@code lm_head} (or the embedding matrix when tied).
 *
 * <p>Padding: a key whose attention-mask entry is 0 is never attended to. A query with no attendable key at all (a
 * padding position at the start of a left-padded row) gets a zero attention output here; transformers instead
 * produces a uniform or otherwise backend-specific mixture there, so the logits at padded query positions are
 * <b>unspecified</b> and must not be compared. Logits at real-token positions never depend on padded tokens.
 */
final class ReferenceForward {
  private static final Pattern LAYER_NAME = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");

  private ReferenceForward() {}

  /**
   * The architecture hyper-parameters that the forward pass depends on (the Hugging Face config fields of the same
   * meaning). {@code attentionBias} means biases on q/k/v only, as Qwen2 has them; Llama's {@code attention_bias =
   * true} would also give {@code o_proj} a bias, which this reference does not model.
   */
  record Config(int vocabSize, int hiddenSize, int intermediateSize, int numLayers, int numHeads, int numKvHeads,
                int headDim, double rmsNormEps, double ropeTheta, boolean tieWordEmbeddings, boolean attentionBias) {
    Config {
      if (vocabSize <= 0 || hiddenSize <= 0 || intermediateSize <= 0 || numLayers < 0 || numHeads <= 0
          || numKvHeads <= 0 || headDim <= 0) {
        throw new IllegalArgumentException("sizes must be positive: " + this);
      }
      if (numHeads % numKvHeads != 0) {
        throw new IllegalArgumentException("numHeads " + numHeads + " is not a multiple of numKvHeads " + numKvHeads);
      }
      if (headDim % 2 != 0) {
        throw new IllegalArgumentException("rotate_half needs an even headDim, got " + headDim);
      }
    }

    /** Query heads that share one key/value head ({@code num_key_value_groups} in transformers). */
    int groupSize() {
      return numHeads / numKvHeads;
    }
  }

  /** {@link #logits(Config, Map, long[][], int[][], long[][])} with positions {@code 0..T-1} in every row. */
  static double[][][] logits(Config c, Map<String, double[]> weights, long[][] inputIds, int[][] attentionMask) {
    return logits(c, weights, inputIds, attentionMask, null);
  }

  /**
   * The logits {@code [N][T][vocabSize]} for a batch of token rows.
   *
   * @param attentionMask {@code [N][T]}, 1 for a real token and 0 for padding; null means all real
   * @param positionIds {@code [N][T]} rotary positions; null means {@code 0..T-1} in every row, which is what
   *     transformers uses when {@code position_ids} is not passed, whatever the attention mask says (see
   *     {@link #positionsFromMask} for the mask-aware alternative)
   */
  static double[][][] logits(Config c, Map<String, double[]> weights, long[][] inputIds, int[][] attentionMask,
                             long[][] positionIds) {
    checkWeights(c, weights);
    int n = inputIds.length;
    if (attentionMask != null) {
      checkRows("attentionMask", Arrays.stream(attentionMask).mapToInt(r -> r.length).toArray(), inputIds);
    }
    if (positionIds != null) {
      checkRows("positionIds", Arrays.stream(positionIds).mapToInt(r -> r.length).toArray(), inputIds);
    }
    double[][][] out = new double[n][][];
    for (int row = 0; row < n; row++) {
      int t = inputIds[row].length;
      boolean[] real = new boolean[t];
      long[] positions = new long[t];
      for (int i = 0; i < t; i++) {
        real[i] = attentionMask == null || attentionMask[row][i] != 0;
        positions[i] = positionIds == null ? i : positionIds[row][i];
      }
      out[row] = rowLogits(c, weights, inputIds[row], real, positions);
    }
    return out;
  }

  /**
   * Mask-aware positions as transformers' generation code builds them: {@code cumsum(mask) - 1} on real tokens, 1 on
   * padding (a harmless value, since padded keys are masked anyway).
   */
  static long[][] positionsFromMask(int[][] attentionMask) {
    long[][] positions = new long[attentionMask.length][];
    for (int row = 0; row < attentionMask.length; row++) {
      positions[row] = new long[attentionMask[row].length];
      long seen = 0;
      for (int i = 0; i < attentionMask[row].length; i++) {
        if (attentionMask[row][i] != 0) {
          positions[row][i] = seen++;
        } else {
          positions[row][i] = 1;
        }
      }
    }
    return positions;
  }

  private static double[][] rowLogits(Config c, Map<String, double[]> w, long[] ids, boolean[] real,
                                      long[] positions) {
    int t = ids.length;
    int h = c.hiddenSize();
    double[] embedding = w.get("model.embed_tokens.weight");
    double[][] hidden = new double[t][];
    for (int i = 0; i < t; i++) {
      if (ids[i] < 0 || ids[i] >= c.vocabSize()) {
        throw new IllegalArgumentException("token id " + ids[i] + " outside [0, " + c.vocabSize() + ")");
      }
      hidden[i] = new double[h];
      System.arraycopy(embedding, (int) ids[i] * h, hidden[i], 0, h);
    }
    double[] invFreq = inverseFrequencies(c.headDim(), c.ropeTheta());
    for (int layer = 0; layer < c.numLayers(); layer++) {
      hidden = decoderLayer(c, w, "model.layers." + layer + ".", hidden, real, positions, invFreq);
    }
    double[] head = c.tieWordEmbeddings() ? embedding : w.get("lm_head.weight");
    double[][] logits = new double[t][];
    for (int i = 0; i < t; i++) {
      double[] normed = rmsNorm(hidden[i], w.get("model.norm.weight"), c.rmsNormEps());
      logits[i] = linear(normed, head, null, c.vocabSize(), h);
    }
    return logits;
  }

  private static double[][] decoderLayer(Config c, Map<String, double[]> w, String p, double[][] x, boolean[] real,
                                         long[] positions, double[] invFreq) {
    int t = x.length;
    int h = c.hiddenSize();
    int hd = c.headDim();
    int qDim = c.numHeads() * hd;
    int kvDim = c.numKvHeads() * hd;
    String a = p + "self_attn.";
    double[][] q = new double[t][];
    double[][] k = new double[t][];
    double[][] v = new double[t][];
    for (int i = 0; i < t; i++) {
      double[] normed = rmsNorm(x[i], w.get(p + "input_layernorm.weight"), c.rmsNormEps());
      q[i] = linear(normed, w.get(a + "q_proj.weight"), w.get(a + "q_proj.bias"), qDim, h);
      k[i] = linear(normed, w.get(a + "k_proj.weight"), w.get(a + "k_proj.bias"), kvDim, h);
      v[i] = linear(normed, w.get(a + "v_proj.weight"), w.get(a + "v_proj.bias"), kvDim, h);
      for (int head = 0; head < c.numHeads(); head++) {
        applyRotary(q[i], head * hd, hd, positions[i], invFreq);
      }
      for (int head = 0; head < c.numKvHeads(); head++) {
        applyRotary(k[i], head * hd, hd, positions[i], invFreq);
      }
    }
    double[][] attended = attention(c, q, k, v, real);
    double[][] out = new double[t][];
    for (int i = 0; i < t; i++) {
      double[] attn = linear(attended[i], w.get(a + "o_proj.weight"), null, h, qDim);
      double[] mid = add(x[i], attn);
      double[] normed = rmsNorm(mid, w.get(p + "post_attention_layernorm.weight"), c.rmsNormEps());
      out[i] = add(mid, mlp(c, w, p + "mlp.", normed));
    }
    return out;
  }

  /**
   * Causal, padding-masked scaled dot-product attention for one row, with grouped key/value heads: query head
   * {@code h} reads key/value head {@code h / (numHeads / numKvHeads)}, which is the head order {@code repeat_kv}
   * produces. Returns the concatenated head outputs {@code [T][numHeads * headDim]}, before {@code o_proj}.
   */
  static double[][] attention(Config c, double[][] q, double[][] k, double[][] v, boolean[] real) {
    int t = q.length;
    int hd = c.headDim();
    double scale = 1.0 / Math.sqrt(hd);
    double[][] out = new double[t][c.numHeads() * hd];
    double[] scores = new double[t];
    for (int head = 0; head < c.numHeads(); head++) {
      int qOff = head * hd;
      int kvOff = (head / c.groupSize()) * hd;
      for (int i = 0; i < t; i++) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j <= i; j++) {
          if (!real[j]) {
            continue;
          }
          double s = 0;
          for (int d = 0; d < hd; d++) {
            s += q[i][qOff + d] * k[j][kvOff + d];
          }
          scores[j] = s * scale;
          max = Math.max(max, scores[j]);
        }
        if (max == Double.NEGATIVE_INFINITY) {
          // No real key at or before this query: only a leading padding position; its output is unspecified.
          continue;
        }
        double sum = 0;
        for (int j = 0; j <= i; j++) {
          if (real[j]) {
            scores[j] = Math.exp(scores[j] - max);
            sum += scores[j];
          }
        }
        for (int j = 0; j <= i; j++) {
          if (real[j]) {
            double p = scores[j] / sum;
            for (int d = 0; d < hd; d++) {
              out[i][qOff + d] += p * v[j][kvOff + d];
            }
          }
        }
      }
    }
    return out;
  }

  private static double[] mlp(Config c, Map<String, double[]> w, String p, double[] x) {
    int h = c.hiddenSize();
    int im = c.intermediateSize();
    double[] gate = linear(x, w.get(p + "gate_proj.weight"), null, im, h);
    double[] up = linear(x, w.get(p + "up_proj.weight"), null, im, h);
    double[] act = new double[im];
    for (int i = 0; i < im; i++) {
      act[i] = silu(gate[i]) * up[i];
    }
    return linear(act, w.get(p + "down_proj.weight"), null, h, im);
  }

  /** {@code x * 1/sqrt(mean(x^2) + eps) * weight}, as {@code LlamaRMSNorm}/{@code Qwen2RMSNorm}. */
  static double[] rmsNorm(double[] x, double[] weight, double eps) {
    double sumSquares = 0;
    for (double value : x) {
      sumSquares += value * value;
    }
    double inv = 1.0 / Math.sqrt(sumSquares / x.length + eps);
    double[] out = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = x[i] * inv * weight[i];
    }
    return out;
  }

  /** The default rotary frequencies {@code 1 / theta^(2j / headDim)} for {@code j < headDim / 2}. */
  static double[] inverseFrequencies(int headDim, double theta) {
    double[] inv = new double[headDim / 2];
    for (int j = 0; j < inv.length; j++) {
      inv[j] = 1.0 / Math.pow(theta, 2.0 * j / headDim);
    }
    return inv;
  }

  /**
   * Rotates one head {@code x[offset .. offset + headDim)} in place, in the "rotate_half" layout: element {@code j}
   * pairs with {@code j + headDim/2} (not with its neighbour), and the pair turns by {@code position * invFreq[j]}.
   * This is {@code x * cos + rotate_half(x) * sin} with {@code rotate_half(x) = [-x2, x1]} and cos/sin repeated over
   * both halves.
   */
  static void applyRotary(double[] x, int offset, int headDim, long position, double[] invFreq) {
    int half = headDim / 2;
    for (int j = 0; j < half; j++) {
      double angle = position * invFreq[j];
      double cos = Math.cos(angle);
      double sin = Math.sin(angle);
      double first = x[offset + j];
      double second = x[offset + j + half];
      x[offset + j] = first * cos - second * sin;
      x[offset + j + half] = second * cos + first * sin;
    }
  }

  static double silu(double x) {
    return x / (1 + Math.exp(-x));
  }

  /** {@code W x + b} for a row-major {@code [out, in]} weight; a null bias is no bias. */
  static double[] linear(double[] x, double[] weight, double[] bias, int out, int in) {
    double[] y = new double[out];
    for (int o = 0; o < out; o++) {
      double s = bias == null ? 0 : bias[o];
      for (int i = 0; i < in; i++) {
        s += weight[o * in + i] * x[i];
      }
      y[o] = s;
    }
    return y;
  }

  private static double[] add(double[] x, double[] y) {
    double[] out = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = x[i] + y[i];
    }
    return out;
  }

  /**
   * The trainable parameter names in the order {@code model.named_parameters()} yields them, which is module
   * registration order: the embedding; per layer the attention's q, k, v (each weight then bias) and o, the MLP's
   * gate, up and down, then the two norms; the final norm; {@code lm_head} last, and only when untied (a tied head
   * is the embedding parameter, which {@code named_parameters()} reports once).
   */
  static List<String> parameterNames(Config c) {
    List<String> names = new ArrayList<>();
    names.add("model.embed_tokens.weight");
    for (int layer = 0; layer < c.numLayers(); layer++) {
      String p = "model.layers." + layer + ".";
      for (String proj : List.of("q_proj", "k_proj", "v_proj")) {
        names.add(p + "self_attn." + proj + ".weight");
        if (c.attentionBias()) {
          names.add(p + "self_attn." + proj + ".bias");
        }
      }
      names.add(p + "self_attn.o_proj.weight");
      names.add(p + "mlp.gate_proj.weight");
      names.add(p + "mlp.up_proj.weight");
      names.add(p + "mlp.down_proj.weight");
      names.add(p + "input_layernorm.weight");
      names.add(p + "post_attention_layernorm.weight");
    }
    names.add("model.norm.weight");
    if (!c.tieWordEmbeddings()) {
      names.add("lm_head.weight");
    }
    return names;
  }

  /**
   * The Hugging Face shape of a parameter named by {@link #parameterNames} ({@code lm_head.weight} is also known
   * when tied, as the state dict still lists it).
   */
  static long[] shape(Config c, String name) {
    long v = c.vocabSize();
    long h = c.hiddenSize();
    long q = (long) c.numHeads() * c.headDim();
    long kv = (long) c.numKvHeads() * c.headDim();
    long im = c.intermediateSize();
    Matcher m = LAYER_NAME.matcher(name);
    long[] shape;
    if (m.matches()) {
      shape = Integer.parseInt(m.group(1)) >= c.numLayers() ? null : switch (m.group(2)) {
        case "input_layernorm.weight", "post_attention_layernorm.weight" -> new long[] {h};
        case "self_attn.q_proj.weight" -> new long[] {q, h};
        case "self_attn.k_proj.weight", "self_attn.v_proj.weight" -> new long[] {kv, h};
        case "self_attn.q_proj.bias" -> new long[] {q};
        case "self_attn.k_proj.bias", "self_attn.v_proj.bias" -> new long[] {kv};
        case "self_attn.o_proj.weight" -> new long[] {h, q};
        case "mlp.gate_proj.weight", "mlp.up_proj.weight" -> new long[] {im, h};
        case "mlp.down_proj.weight" -> new long[] {h, im};
        default -> null;
      };
    } else {
      shape = switch (name) {
        case "model.embed_tokens.weight", "lm_head.weight" -> new long[] {v, h};
        case "model.norm.weight" -> new long[] {h};
        default -> null;
      };
    }
    if (shape == null) {
      throw new IllegalArgumentException("not a parameter of " + c + ": " + name);
    }
    return shape;
  }

  static long numel(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  /**
   * Every parameter of {@link #parameterNames} filled from one seeded generator in that order: matrices and biases
   * with {@code scale * N(0, 1)}, norm weights uniform in {@code [0.9, 1.1]} so that a norm that forgets its weight
   * still shows up in a comparison.
   */
  static Map<String, double[]> randomWeights(Config c, long seed, double scale) {
    Random rng = new Random(seed);
    Map<String, double[]> weights = new LinkedHashMap<>();
    for (String name : parameterNames(c)) {
      double[] values = new double[Math.toIntExact(numel(shape(c, name)))];
      boolean norm = name.endsWith("norm.weight");
      for (int i = 0; i < values.length; i++) {
        values[i] = norm ? 0.9 + 0.2 * rng.nextDouble() : scale * rng.nextGaussian();
      }
      weights.put(name, values);
    }
    return weights;
  }

  /** Rejects a map that is not exactly {@link #parameterNames} with matching lengths, so no weight is ignored. */
  private static void checkWeights(Config c, Map<String, double[]> weights) {
    List<String> names = parameterNames(c);
    for (String name : names) {
      double[] values = weights.get(name);
      if (values == null) {
        throw new IllegalArgumentException("missing weight " + name);
      }
      long expected = numel(shape(c, name));
      if (values.length != expected) {
        throw new IllegalArgumentException(name + " has " + values.length + " values, expected " + expected);
      }
    }
    for (String name : weights.keySet()) {
      if (!names.contains(name)) {
        throw new IllegalArgumentException("unexpected weight " + name + " for " + c);
      }
    }
  }

  private static void checkRows(String what, int[] lengths, long[][] inputIds) {
    if (lengths.length != inputIds.length) {
      throw new IllegalArgumentException(what + " has " + lengths.length + " rows, inputIds " + inputIds.length);
    }
    for (int row = 0; row < lengths.length; row++) {
      if (lengths[row] != inputIds[row].length) {
        throw new IllegalArgumentException(what + " row " + row + " has length " + lengths[row] + ", inputIds "
            + inputIds[row].length);
      }
    }
  }
}
