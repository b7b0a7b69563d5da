package dev.grpo4j.train;

import java.util.SplittableRandom;

/**
 * Training batches drawn uniformly without replacement: every epoch is a fresh permutation of the {@code size}
 * pairs, seeded by {@code (seed, epoch)}, and batches are consecutive slices of it (a batch may span two epochs).
 * The whole state is the number of pairs handed out, so a checkpoint restores the exact batch sequence with
 * {@link #skipTo}.
 */
public final class PairSampler {
  private final int size;
  private final long seed;
  private long consumed;
  private long permutedEpoch = -1;
  private int[] permutation;

  /**
   * @param size pairs in the data set ({@code >= 1})
   * @param seed seed of the permutations
   */
  public PairSampler(int size, long seed) {
    if (size < 1) {
      throw new IllegalArgumentException("size = " + size + ": need at least one pair");
    }
    this.size = size;
    this.seed = seed;
  }

  /** The next {@code batch} pair indices. */
  public int[] next(int batch) {
    int[] out = new int[batch];
    for (int i = 0; i < batch; i++) {
      long epoch = consumed / size;
      if (epoch != permutedEpoch) {
        permutation = permutation(epoch);
        permutedEpoch = epoch;
      }
      out[i] = permutation[(int) (consumed % size)];
      consumed++;
    }
    return out;
  }

  /** Pairs handed out so far. */
  public long consumed() {
    return consumed;
  }

  /** Passes over the data so far, fractional within an epoch. */
  public double epoch() {
    return (double) consumed / size;
  }

  /** Continues as if {@code consumed} pairs had been handed out. */
  public void skipTo(long consumed) {
    if (consumed < 0) {
      throw new IllegalArgumentException("consumed = " + consumed + ": must be >= 0");
    }
    this.consumed = consumed;
  }

  private int[] permutation(long epoch) {
    // One generator per epoch, split from the seed by the epoch number, so an epoch's order does not depend on how
    // the ones before it were drawn.
    SplittableRandom rng = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (epoch + 1)));
    int[] p = new int[size];
    for (int i = 0; i < size; i++) {
      p[i] = i;
    }
    for (int i = size - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}
