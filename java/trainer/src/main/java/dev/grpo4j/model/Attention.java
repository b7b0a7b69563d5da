package dev.grpo4j.model;

import dev.grpo4j.model.DecoderOptions.QkNorm;
import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.platform.LibTorch;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * One layer's grouped-query self-attention: projections (separate q/k/v, or Phi-3's one {@code qkv}; the others
 * null), optional q/k RMSNorms, the rotation, {@code scaled_dot_product_attention} (or the soft-capped scores Gemma 2
 * needs), the output projection. Also the rotation tables and masks the layers of one forward share.
 */
record Attention(Projection q, Projection k, Projection v, Projection qkv, Projection o, RmsNorm qNorm,
                 RmsNorm kNorm) {
  static {
    LibTorch.load();
  }


  /** {@code o(attend(rotate(q(x)), rotate(k(x)), v(x)))} for {@code x} {@code [N, T, H]}. */
  Tensor forward(ModelConfig config, Tensor normed, Tensor[] cosSin, Tensor mask, long rows, long seqLen) {
    DecoderOptions options = config.decoder();
    int qWidth = config.numHeads() * config.headDim();
    int kvWidth = config.numKvHeads() * config.headDim();
    Tensor queries;
    Tensor keys;
    Tensor values;
    if (qkv != null) {
      Tensor all = qkv.forward(normed);
      queries = all.narrow(-1, 0, qWidth);
      keys = all.narrow(-1, qWidth, kvWidth);
      values = all.narrow(-1, qWidth + kvWidth, kvWidth);
    } else {
      queries = q.forward(normed);
      keys = k.forward(normed);
      values = v.forward(normed);
    }
    if (options.qkNorm() == QkNorm.WHOLE) {
      queries = qNorm.forward(queries);
      keys = kNorm.forward(keys);
    }
    queries = queries.reshape(rows, seqLen, config.numHeads(), config.headDim());
    keys = keys.reshape(rows, seqLen, config.numKvHeads(), config.headDim());
    if (options.qkNorm() == QkNorm.PER_HEAD) {
      queries = qNorm.forward(queries);
      keys = kNorm.forward(keys);
    }
    queries = queries.transpose(1, 2);
    keys = keys.transpose(1, 2);
    values = values.reshape(rows, seqLen, config.numKvHeads(), config.headDim()).transpose(1, 2);
    if (cosSin != null) {
      int rotary = options.rotaryDim(config.headDim());
      queries = rotate(queries, cosSin, rotary);
      keys = rotate(keys, cosSin, rotary);
    }
    Tensor attended = options.attentionSoftcap() > 0
        ? softcapped(config, queries, keys, values, mask, seqLen)
        : torch.scaled_dot_product_attention(queries, keys, values,
            mask == null ? new TensorOptional() : new TensorOptional(mask), 0.0, mask == null,
            Double.isNaN(options.attentionScale()) ? new DoubleOptional()
                : new DoubleOptional(options.attentionScale()), config.numKvHeads() != config.numHeads());
    return o.forward(attended.transpose(1, 2).reshape(rows, seqLen, qWidth));
  }

  /**
   * Attention whose scores are soft-capped, {@code c tanh(s / c)} before the mask (Gemma 2), which
   * {@code scaled_dot_product_attention} cannot do: the scores are computed whole, the softmax in float32 and cast
   * back, as transformers' eager attention does.
   */
  private static Tensor softcapped(ModelConfig config, Tensor q, Tensor k, Tensor v, Tensor mask, long seqLen) {
    DecoderOptions options = config.decoder();
    int repeats = config.queriesPerKv();
    if (repeats > 1) {
      k = k.repeat_interleave(repeats, new LongOptional(1), new LongOptional());
      v = v.repeat_interleave(repeats, new LongOptional(1), new LongOptional());
    }
    double scale = Double.isNaN(options.attentionScale()) ? 1 / Math.sqrt(config.headDim())
        : options.attentionScale();
    Scalar cap = new Scalar(options.attentionSoftcap());
    Tensor scores = torch.matmul(q, k.transpose(2, 3)).mul(new Scalar(scale)).div(cap).tanh().mul(cap);
    Tensor visible = mask != null ? mask : mask(null, 0, 1, seqLen, q);
    scores = scores.masked_fill(visible.logical_not(), new Scalar(Double.NEGATIVE_INFINITY));
    Tensor weights = scores.softmax(-1, new ScalarTypeOptional(ScalarType.Float)).to(q.scalar_type().intern());
    return torch.matmul(weights, v);
  }

  /**
   * {@code x * cos + rotate_half(x) * sin} on the first {@code rotary} features of each head (all of them unless the
   * family rotates part), rotate_half(x) = {@code [-x2, x1]} over the two halves of those features.
   */
  private static Tensor rotate(Tensor x, Tensor[] cosSin, int rotary) {
    long headDim = x.size(-1);
    Tensor turned = rotary == headDim ? x : x.narrow(-1, 0, rotary);
    long half = rotary / 2;
    Tensor halves = torch.cat(new TensorVector(turned.narrow(-1, half, half).neg(), turned.narrow(-1, 0, half)), -1);
    Tensor rotated = turned.mul(cosSin[0]).add(halves.mul(cosSin[1]));
    return rotary == headDim ? rotated
        : torch.cat(new TensorVector(rotated, x.narrow(-1, rotary, headDim - rotary)), -1);
  }

  /**
   * cos and sin {@code [T, rotary]} of {@code position * inv_freq}, each frequency used for both halves, times the
   * rotation's attention scaling; computed in float32 and cast to the activations' dtype, as transformers does. The
   * frequencies may depend on T (longrope: on the padded batch's length, as transformers' position ids do).
   */
  static Tensor[] rotaryTables(Rope rope, int rotary, long seqLen, Tensor like) {
    double[] inverse = rope.inverseFrequencies(rotary, seqLen);
    float[] inv = new float[inverse.length];
    for (int j = 0; j < inv.length; j++) {
      inv[j] = (float) inverse[j];
    }
    Tensor freq = HostTensors.floats(inv, inv.length);
    Tensor positions = torch.arange(new Scalar(seqLen), new TensorOptions(ScalarType.Float));
    Tensor angles = positions.unsqueeze(1).mul(freq.unsqueeze(0));
    Tensor both = torch.cat(new TensorVector(angles, angles), -1);
    ScalarType dtype = like.scalar_type().intern();
    Tensor cos = both.cos();
    Tensor sin = both.sin();
    if (rope.attentionScaling() != 1) {
      cos = cos.mul(new Scalar(rope.attentionScaling()));
      sin = sin.mul(new Scalar(rope.attentionScaling()));
    }
    return new Tensor[] {cos.to(like.device(), dtype), sin.to(like.device(), dtype)};
  }

  /**
   * Boolean {@code [N, 1, T, T]} (N = 1 without a padding mask): query t may see key s when s <= t, t - s < window
   * (window 0: any s <= t) and s is a token. Each position may always see itself, so a padding query at the start of
   * a left-padded row has a key and does not turn into NaN.
   */
  static Tensor mask(Tensor attentionMask, int window, long rows, long seqLen, Tensor like) {
    TensorOptions bool = new TensorOptions(ScalarType.Bool);
    Tensor causal = torch.ones(new long[] {seqLen, seqLen}, bool).to(like.device(), ScalarType.Bool).tril();
    if (window > 0) {
      causal = causal.triu(1 - window);
    }
    Tensor self = torch.eye(seqLen, bool).to(like.device(), ScalarType.Bool);
    if (attentionMask == null) {
      return causal.logical_or(self).view(1, 1, seqLen, seqLen);
    }
    Tensor keys = attentionMask.to(like.device(), ScalarType.Bool).view(rows, 1, 1, seqLen);
    return causal.logical_and(keys).logical_or(self);
  }
}
