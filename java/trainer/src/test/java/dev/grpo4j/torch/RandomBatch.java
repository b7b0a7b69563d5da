package dev.grpo4j.torch;

import dev.grpo4j.TokenLogits;
import dev.grpo4j.platform.HostTensors;
import java.util.Random;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A random preference batch as CPU tensors: logits {@code scale * N(0,1)} [2B, T, V], labels [2B, T] with
 * positions masked at random, one row fully masked and one group never drawn when asked, reference log-probs
 * [2B] and group ids [B].
 */
record RandomBatch(int pairs, int seqLen, int vocab, long[] groupSizes, float[] logits, long[] labels, float[] ref,
                   int[] groupIds) {

  /** Shape and masking of a generated batch; {@code maskedRow} and {@code absentGroup} are ignored when < 0. */
  record Shape(String name, int pairs, int seqLen, int vocab, int groups, double maskFraction, int maskedRow,
               int absentGroup) {
    @Override
    public String toString() {
      return name;
    }
  }

  static RandomBatch generate(Random rng, Shape s, double scale) {
    int rows = 2 * s.pairs();
    float[] logits = new float[rows * s.seqLen() * s.vocab()];
    for (int e = 0; e < logits.length; e++) {
      logits[e] = (float) (scale * rng.nextGaussian());
    }
    long[] labels = new long[rows * s.seqLen()];
    for (int p = 0; p < labels.length; p++) {
      boolean masked = p / s.seqLen() == s.maskedRow() || rng.nextDouble() < s.maskFraction();
      labels[p] = masked ? TokenLogits.IGNORE_INDEX : rng.nextInt(s.vocab());
    }
    float[] ref = new float[rows];
    for (int r = 0; r < rows; r++) {
      ref[r] = (float) (-Math.log(s.vocab()) * s.seqLen() * (0.5 + rng.nextDouble()));
    }
    int[] ids = new int[s.pairs()];
    for (int i = 0; i < ids.length; i++) {
      do {
        ids[i] = rng.nextInt(s.groups());
      } while (s.groups() > 1 && ids[i] == s.absentGroup());
    }
    long[] sizes = new long[s.groups()];
    for (int g = 0; g < sizes.length; g++) {
      sizes[g] = 1 + rng.nextInt(1000);
    }
    return new RandomBatch(s.pairs(), s.seqLen(), s.vocab(), sizes, logits, labels, ref, ids);
  }

  /** Logits as a fresh leaf tensor of {@code type} that requires grad (values rounded to the type first). */
  Tensor logitsLeaf(ScalarType type) {
    return HostTensors.floats(logits, 2L * pairs, seqLen, vocab).to(type).requires_grad_(true);
  }

  /** Labels as int64, or int32 when {@code int32}. */
  Tensor labelsTensor(boolean int32) {
    Tensor t = HostTensors.longs(labels, 2L * pairs, seqLen);
    return int32 ? t.to(ScalarType.Int) : t;
  }

  Tensor refTensor() {
    return HostTensors.floats(ref, 2L * pairs);
  }

  Tensor groupIdsTensor() {
    return HostTensors.ints(groupIds, pairs);
  }
}
