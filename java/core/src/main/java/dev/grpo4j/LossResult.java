package dev.grpo4j;

import dev.grpo4j.ffm.LossKernel;

/**
 * Everything one loss call produced: the objective, per-pair values (B each) and per-group metrics (K each).
 * Immutable: every array accessor returns a copy. Aggregates are over the groups present in the batch.
 */
public final class LossResult {
  private final float loss;
  private final float[][] pair;
  private final float[][] group;
  private final int[] groupCounts;

  /**
   * The result of a call made of phases: the per-pair values of {@code statistics} (one batch's) and the objective
   * and group values of {@code step} (which may cover more pairs: other ranks', other micro-batches').
   */
  public static LossResult of(LossStatistics statistics, GroupStep step) {
    java.util.Objects.requireNonNull(statistics, "statistics");
    java.util.Objects.requireNonNull(step, "step");
    step.requireCovers(statistics.groupStatistics());
    LossKernel.Step s = step.kernelStep();
    return new LossResult(new LossKernel.Outputs(s.loss(), statistics.pair(), s.group(), s.groupCount()));
  }

  LossResult(LossKernel.Outputs outputs) {
    this.loss = outputs.loss();
    this.pair = outputs.pair();
    this.group = outputs.group();
    this.groupCounts = outputs.groupCount();
  }

  /** The objective J the gradient belongs to. */
  public double loss() {
    return loss;
  }

  public int numPairs() {
    return pair[0].length;
  }

  public int numGroups() {
    return groupCounts.length;
  }

  /** Per-pair loss l_i. */
  public float[] pairLosses() {
    return pair[0].clone();
  }

  /**
   * Per-pair margin {@code h_i = (s_w - ref_w) - (s_l - ref_l)}, of the summed log-ratios also under IPO length
   * normalisation (only the IPO loss divides each log-ratio by its response-token count).
   */
  public float[] margins() {
    return pair[1].clone();
  }

  /** Per-pair implicit chosen reward {@code beta (s_w - ref_w)}. */
  public float[] chosenRewards() {
    return pair[2].clone();
  }

  /** Per-pair implicit rejected reward {@code beta (s_l - ref_l)}. */
  public float[] rejectedRewards() {
    return pair[3].clone();
  }

  /** Per-pair policy sequence log-prob of the chosen response, {@code s_w}. */
  public float[] chosenLogps() {
    return pair[4].clone();
  }

  /** Per-pair policy sequence log-prob of the rejected response, {@code s_l}. */
  public float[] rejectedLogps() {
    return pair[5].clone();
  }

  /**
   * Per-group loss {@code L_g} under the configured normalisation, 0 for a group absent from the batch. The
   * adjustment {@code C / sqrt(N_g)} is not in it: it enters the weight update and J (as {@code A_g = L_g +
   * C / sqrt(N_g)}, for absent groups too), not this report.
   */
  public float[] groupLosses() {
    return group[0].clone();
  }

  /**
   * Per-group weight {@code w_g} of the objective {@code J = sum_g w_g A_g}, after this call's update:
   * {@code (1 - chi)/K + chi alpha_g} for ROBUST, {@code (1/N_g) / sum_h (1/N_h)} for IMPORTANCE_SAMPLING, and for
   * AVERAGE (which has no group weights: J is the mean pair loss) the group's share of the batch. Not the robust
   * state {@code alpha}: see {@link GroupRobustLoss#alpha()}.
   */
  public float[] objectiveWeights() {
    return group[1].clone();
  }

  /**
   * Per-group fraction of pairs with margin {@code h > 0} (a margin of exactly 0 counts as wrong). With IPO length
   * normalisation the margins and rewards are those of the summed log-ratios, before the division by the token
   * counts that only the IPO loss applies.
   */
  public float[] groupRewardAccuracies() {
    return group[2].clone();
  }

  /** Per-group fraction of pairs with {@code s_w > s_l}. */
  public float[] groupLogpAccuracies() {
    return group[3].clone();
  }

  /** Per-group mean chosen reward. */
  public float[] groupChosenRewards() {
    return group[4].clone();
  }

  /** Per-group mean rejected reward. */
  public float[] groupRejectedRewards() {
    return group[5].clone();
  }

  /** Per-group mean margin. */
  public float[] groupMargins() {
    return group[6].clone();
  }

  /** Pairs of each group in the batch. */
  public int[] groupCounts() {
    return groupCounts.clone();
  }

  /** Largest group loss among the groups present. */
  public double worstGroupLoss() {
    double worst = Double.NEGATIVE_INFINITY;
    for (int g = 0; g < groupCounts.length; g++) {
      if (groupCounts[g] > 0) {
        worst = Math.max(worst, group[0][g]);
      }
    }
    return worst;
  }

  /** Smallest reward accuracy among the groups present. */
  public double worstGroupRewardAccuracy() {
    double worst = Double.POSITIVE_INFINITY;
    for (int g = 0; g < groupCounts.length; g++) {
      if (groupCounts[g] > 0) {
        worst = Math.min(worst, group[2][g]);
      }
    }
    return worst;
  }

  /** Mean of the group losses of the groups present. */
  public double averageGroupLoss() {
    double sum = 0;
    int present = 0;
    for (int g = 0; g < groupCounts.length; g++) {
      if (groupCounts[g] > 0) {
        sum += group[0][g];
        present++;
      }
    }
    return sum / present;
  }

  /** One line: J, then per group its loss, objective weight and pair count. */
  @Override
  public String toString() {
    StringBuilder s = new StringBuilder("LossResult[J=").append(loss).append(", pairs=").append(numPairs());
    for (int g = 0; g < groupCounts.length; g++) {
      s.append(", g").append(g).append("={L=").append(group[0][g]).append(", w=").append(group[1][g])
          .append(", n=").append(groupCounts[g]).append('}');
    }
    return s.append(']').toString();
  }

  /** Largest minus smallest group loss among the groups present. */
  public double lossImbalance() {
    double best = Double.POSITIVE_INFINITY;
    for (int g = 0; g < groupCounts.length; g++) {
      if (groupCounts[g] > 0) {
        best = Math.min(best, group[0][g]);
      }
    }
    return worstGroupLoss() - best;
  }
}
