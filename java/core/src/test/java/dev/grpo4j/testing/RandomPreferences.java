package dev.grpo4j.testing;

import dev.grpo4j.TokenLogits;
import java.util.Random;

/**
 * A random preference batch as Java arrays, for tests of every layer (off-heap segments in the core, tensors in the
 * trainer): logits {@code scale * N(0,1)} [2B, T, V], labels [2B, T] with positions masked at random, one row fully
 * masked and one group never drawn when asked, reference log-probs [2B] of a response's typical size
 * ({@code -T log V} times 0.5 to 1.5), group ids [B] and dataset group sizes [K].
 */
public record RandomPreferences(int pairs, int seqLen, int vocab, long[] groupSizes, float[] logits, long[] labels,
                                float[] ref, int[] groupIds) {

  /**
   * Shape and masking of a generated batch.
   *
   * @param name how a parameterised test names the case
   * @param maskFraction the share of positions masked at random
   * @param maskedRow a row masked entirely, or -1
   * @param absentGroup a group no pair is drawn from (when K > 1), or -1
   */
  public record Shape(String name, int pairs, int seqLen, int vocab, int groups, double maskFraction, int maskedRow,
                      int absentGroup) {
    @Override
    public String toString() {
      return name;
    }
  }

  public static RandomPreferences generate(Random rng, Shape s, double scale) {
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
    return new RandomPreferences(s.pairs(), s.seqLen(), s.vocab(), sizes, logits, labels, ref, ids);
  }
}
