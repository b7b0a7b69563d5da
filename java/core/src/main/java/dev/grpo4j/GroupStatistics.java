package dev.grpo4j;

import java.util.Arrays;
import java.util.Objects;

/**
 * Per-group sums over the pairs of one or more batches: what the group step needs from the pairs, small enough to
 * exchange between data-parallel ranks (K rows of {@value #COLUMNS} doubles). Statistics of several batches or ranks
 * combine by adding them ({@link #plus}); the group step on the combined statistics treats their pairs as one batch.
 *
 * <p>Columns per group, in {@link #toArray()}'s row-major order: the sum of the pair losses, the number of pairs,
 * pairs with a positive margin, pairs with {@code s_w > s_l}, the sums of the chosen and rejected rewards and of the
 * margins. Immutable.
 */
public final class GroupStatistics {
  /** Doubles per group. */
  public static final int COLUMNS = 7;
  static final int LOSS_SUM = 0;
  static final int PAIRS = 1;
  private static final int REWARD_HITS = 2;
  private static final int LOGPROB_HITS = 3;

  private final int groups;
  private final double[] sums;

  private GroupStatistics(int groups, double[] sums) {
    this.groups = groups;
    this.sums = sums;
  }

  /**
   * Statistics from their array form, e.g. after an all-reduce.
   *
   * @param groups K
   * @param sums K x {@value #COLUMNS} doubles, row-major
   * @throws IllegalArgumentException if the length is wrong, a sum is not finite, a pair count is not a whole
   *     number in {@code [0, 2^31)}, or a count of pairs with a positive margin or with {@code s_w > s_l} is not a
   *     whole number between 0 and the group's pairs
   */
  public static GroupStatistics fromArray(int groups, double[] sums) {
    Objects.requireNonNull(sums, "sums");
    if (groups < 1) {
      throw new IllegalArgumentException("groups = " + groups + ": must be >= 1");
    }
    if (sums.length != groups * COLUMNS) {
      throw new IllegalArgumentException("sums has " + sums.length + " elements; " + groups + " groups need "
          + groups * COLUMNS + " (" + COLUMNS + " per group)");
    }
    for (int i = 0; i < sums.length; i++) {
      if (!Double.isFinite(sums[i])) {
        throw new IllegalArgumentException("sums[" + i + "] = " + sums[i] + ": group statistics must be finite");
      }
    }
    for (int g = 0; g < groups; g++) {
      double n = sums[g * COLUMNS + PAIRS];
      if (n < 0 || n != Math.rint(n) || n > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("the pair count of group " + g + " is " + n + ": must be a whole number "
            + "in [0, 2^31)");
      }
      for (int column : new int[] {REWARD_HITS, LOGPROB_HITS}) {
        double hits = sums[g * COLUMNS + column];
        if (hits < 0 || hits != Math.rint(hits) || hits > n) {
          throw new IllegalArgumentException("group " + g + " counts " + hits + " pairs with "
              + (column == REWARD_HITS ? "a positive margin" : "s_w > s_l") + " (column " + column + ") among " + n
              + " pairs: must be a whole number from 0 to its pair count");
        }
      }
    }
    return new GroupStatistics(groups, sums.clone());
  }

  /** Statistics of no pairs, to accumulate into. */
  public static GroupStatistics empty(int groups) {
    if (groups < 1) {
      throw new IllegalArgumentException("groups = " + groups + ": must be >= 1");
    }
    return new GroupStatistics(groups, new double[groups * COLUMNS]);
  }

  /** The element-wise sum: the statistics of both sets of pairs. */
  public GroupStatistics plus(GroupStatistics other) {
    Objects.requireNonNull(other, "other");
    if (other.groups != groups) {
      throw new IllegalArgumentException("statistics of " + other.groups + " groups added to statistics of " + groups);
    }
    double[] sum = new double[sums.length];
    for (int i = 0; i < sum.length; i++) {
      sum[i] = sums[i] + other.sums[i];
    }
    return new GroupStatistics(groups, sum);
  }

  public int groups() {
    return groups;
  }

  /** Pairs of group {@code g}. */
  public long pairs(int g) {
    return (long) sums[Objects.checkIndex(g, groups) * COLUMNS + PAIRS];
  }

  /** Pairs over all groups. */
  public long pairs() {
    long n = 0;
    for (int g = 0; g < groups; g++) {
      n += pairs(g);
    }
    return n;
  }

  /** The sum of group {@code g}'s pair losses. */
  public double lossSum(int g) {
    return sums[Objects.checkIndex(g, groups) * COLUMNS + LOSS_SUM];
  }

  /** K x {@value #COLUMNS} doubles, row-major: a copy, e.g. to all-reduce. */
  public double[] toArray() {
    return sums.clone();
  }

  double[] array() {
    return sums;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof GroupStatistics other && groups == other.groups && Arrays.equals(sums, other.sums);
  }

  @Override
  public int hashCode() {
    return 31 * groups + Arrays.hashCode(sums);
  }

  @Override
  public String toString() {
    return "GroupStatistics[" + groups + " groups, " + pairs() + " pairs]";
  }
}
