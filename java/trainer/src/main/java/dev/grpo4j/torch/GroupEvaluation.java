package dev.grpo4j.torch;

/**
 * Per-group results over a whole evaluation split: mean pair loss and reward accuracy (fraction of pairs with
 * margin {@code h > 0}), aggregated over every pair rather than averaged over batches, so each pair counts once.
 * A group without pairs has NaN loss and accuracy and is left out of the aggregates.
 *
 * @param pairs pairs per group
 * @param loss mean pair loss per group
 * @param rewardAccuracy fraction of the group's pairs with a positive margin
 */
public record GroupEvaluation(long[] pairs, double[] loss, double[] rewardAccuracy) {
  public GroupEvaluation {
    if (pairs.length != loss.length || pairs.length != rewardAccuracy.length) {
      throw new IllegalArgumentException("pairs, loss and rewardAccuracy need one entry per group");
    }
    pairs = pairs.clone();
    loss = loss.clone();
    rewardAccuracy = rewardAccuracy.clone();
  }

  /** Builds the evaluation from per-pair losses, margins and groups. */
  static GroupEvaluation of(int groups, float[] pairLosses, float[] margins, int[] pairGroups) {
    long[] count = new long[groups];
    double[] lossSum = new double[groups];
    long[] correct = new long[groups];
    for (int i = 0; i < pairLosses.length; i++) {
      int g = pairGroups[i];
      count[g]++;
      lossSum[g] += pairLosses[i];
      if (margins[i] > 0) {
        correct[g]++;
      }
    }
    double[] loss = new double[groups];
    double[] accuracy = new double[groups];
    for (int g = 0; g < groups; g++) {
      loss[g] = count[g] == 0 ? Double.NaN : lossSum[g] / count[g];
      accuracy[g] = count[g] == 0 ? Double.NaN : (double) correct[g] / count[g];
    }
    return new GroupEvaluation(count, loss, accuracy);
  }

  @Override
  public long[] pairs() {
    return pairs.clone();
  }

  @Override
  public double[] loss() {
    return loss.clone();
  }

  @Override
  public double[] rewardAccuracy() {
    return rewardAccuracy.clone();
  }

  public int groups() {
    return pairs.length;
  }

  /** Largest group loss. */
  public double worstGroupLoss() {
    double worst = Double.NEGATIVE_INFINITY;
    for (int g = 0; g < pairs.length; g++) {
      if (pairs[g] > 0) {
        worst = Math.max(worst, loss[g]);
      }
    }
    return worst;
  }

  /** Smallest group reward accuracy. */
  public double worstGroupRewardAccuracy() {
    double worst = Double.POSITIVE_INFINITY;
    for (int g = 0; g < pairs.length; g++) {
      if (pairs[g] > 0) {
        worst = Math.min(worst, rewardAccuracy[g]);
      }
    }
    return worst;
  }

  /** Mean of the group losses (each group counts once, whatever its size). */
  public double averageGroupLoss() {
    return meanOverGroups(loss);
  }

  /** Mean of the group reward accuracies. */
  public double averageGroupRewardAccuracy() {
    return meanOverGroups(rewardAccuracy);
  }

  /** Largest minus smallest group loss. */
  public double lossImbalance() {
    double best = Double.POSITIVE_INFINITY;
    for (int g = 0; g < pairs.length; g++) {
      if (pairs[g] > 0) {
        best = Math.min(best, loss[g]);
      }
    }
    return worstGroupLoss() - best;
  }

  private double meanOverGroups(double[] values) {
    double sum = 0;
    int present = 0;
    for (int g = 0; g < pairs.length; g++) {
      if (pairs[g] > 0) {
        sum += values[g];
        present++;
      }
    }
    return sum / present;
  }
}
