package dev.grpo4j;

import java.util.Arrays;
import java.util.Objects;

/**
 * The pairs of a batch as sequence log-probs rather than logits: what a caller that never forms the whole logits
 * tensor (a fused LM head working through the tokens in chunks, with {@link TokenPasses}) hands to
 * {@link GroupRobustLoss#statistics(SequenceBatch)}. Rows are the B chosen responses, then the B rejected ones.
 *
 * @param logProbs {@code s_r} per row, {@code [2B]}
 * @param tokenCounts response tokens per row {@code [2B]}, read by the losses that use lengths
 *     ({@link PairLoss#usesLengths()}); null = all 1
 * @param refLogps reference log-probs per row {@code [2B]}
 * @param groupIds group of each pair {@code [B]}, in {@code [0, K)}
 */
public record SequenceBatch(float[] logProbs, int[] tokenCounts, float[] refLogps, int[] groupIds) {
  public SequenceBatch {
    Objects.requireNonNull(logProbs, "logProbs");
    Objects.requireNonNull(refLogps, "refLogps");
    Objects.requireNonNull(groupIds, "groupIds");
    if (groupIds.length < 1) {
      throw new IllegalArgumentException("groupIds is empty: a batch needs at least one pair");
    }
    int rows = 2 * groupIds.length;
    requireLength(logProbs.length, rows, "logProbs");
    requireLength(refLogps.length, rows, "refLogps");
    if (tokenCounts != null) {
      requireLength(tokenCounts.length, rows, "tokenCounts");
      for (int r = 0; r < rows; r++) {
        if (tokenCounts[r] < 0) {
          throw new IllegalArgumentException("tokenCounts[" + r + "] = " + tokenCounts[r] + ": must be >= 0");
        }
        if (tokenCounts[r] == 0 && logProbs[r] != 0) {
          throw new IllegalArgumentException("row " + r + " has tokenCounts[" + r + "] = 0 but logProbs[" + r + "] = "
              + logProbs[r] + ": a sequence without response tokens has log-prob 0; count its tokens, or give it "
              + "log-prob 0");
        }
      }
    }
    logProbs = logProbs.clone();
    tokenCounts = tokenCounts == null ? null : tokenCounts.clone();
    refLogps = refLogps.clone();
    groupIds = groupIds.clone();
  }

  private static void requireLength(int length, int rows, String name) {
    if (length != rows) {
      throw new IllegalArgumentException(name + " holds " + length + " values but the " + rows / 2 + " pairs of "
          + "groupIds need " + rows + " (chosen rows, then rejected rows)");
    }
  }

  public int numPairs() {
    return groupIds.length;
  }

  @Override
  public float[] logProbs() {
    return logProbs.clone();
  }

  @Override
  public int[] tokenCounts() {
    return tokenCounts == null ? null : tokenCounts.clone();
  }

  @Override
  public float[] refLogps() {
    return refLogps.clone();
  }

  @Override
  public int[] groupIds() {
    return groupIds.clone();
  }

  /** Token counts for the kernel: all 1 when none were given. */
  int[] kernelTokenCounts() {
    if (tokenCounts != null) {
      return tokenCounts;
    }
    int[] ones = new int[logProbs.length];
    Arrays.fill(ones, 1);
    return ones;
  }

  float[] kernelLogProbs() {
    return logProbs;
  }

  float[] kernelRefLogps() {
    return refLogps;
  }

  int[] kernelGroupIds() {
    return groupIds;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SequenceBatch other && Arrays.equals(logProbs, other.logProbs)
        && Arrays.equals(tokenCounts, other.tokenCounts) && Arrays.equals(refLogps, other.refLogps)
        && Arrays.equals(groupIds, other.groupIds);
  }

  @Override
  public int hashCode() {
    return Objects.hash(Arrays.hashCode(logProbs), Arrays.hashCode(tokenCounts), Arrays.hashCode(refLogps),
        Arrays.hashCode(groupIds));
  }

  @Override
  public String toString() {
    return "SequenceBatch[" + groupIds.length + " pairs]";
  }
}
