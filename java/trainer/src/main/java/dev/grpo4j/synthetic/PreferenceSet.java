package dev.grpo4j.synthetic;

/**
 * Preference pairs of the bandit: pair i has state {@code (s0[i], s1[i])}, labeller group {@code group[i]} and the
 * chosen and rejected actions. The arrays are owned by this record; callers must not modify them.
 */
public record PreferenceSet(double[] s0, double[] s1, int[] group, int[] chosen, int[] rejected) {
  public PreferenceSet {
    int n = s0.length;
    if (s1.length != n || group.length != n || chosen.length != n || rejected.length != n) {
      throw new IllegalArgumentException("all arrays of a PreferenceSet must have the same length");
    }
  }

  public int size() {
    return s0.length;
  }

  /** Pairs per group, {@code N_g}. */
  public long[] groupCounts(int groups) {
    long[] counts = new long[groups];
    for (int g : group) {
      counts[g]++;
    }
    return counts;
  }
}
