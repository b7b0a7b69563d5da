package dev.grpo4j.train;

/** Training-split sums over the micro-batches of one step, all ranks' in the order one process would add them. */
final class StepTotals {
  private final double[] groupPairLossSum;
  private final double[] groupObjectiveLossSum;
  private final long[] groupPairs;
  private double lossSum;
  private int microBatches;
  private long tokens;

  StepTotals(int groups) {
    groupPairLossSum = new double[groups];
    groupObjectiveLossSum = new double[groups];
    groupPairs = new long[groups];
  }

  /**
   * @param objective the micro-batch's J
   * @param groupLosses its L_g
   * @param pairLossSums per group, the sum of its pairs' losses and, after K of them, their number
   * @param microTokens its tokens
   */
  void add(double objective, float[] groupLosses, double[] pairLossSums, long microTokens) {
    lossSum += objective;
    microBatches++;
    tokens += microTokens;
    int groups = groupPairLossSum.length;
    for (int g = 0; g < groups; g++) {
      groupPairLossSum[g] += pairLossSums[g];
      groupPairs[g] += (long) pairLossSums[groups + g];
      groupObjectiveLossSum[g] += groupLosses[g];
    }
  }

  /** The step's tokens, all ranks' micro-batches. */
  long tokens() {
    return tokens;
  }

  double meanLoss() {
    return lossSum / microBatches;
  }

  /** Mean pair loss per group over the step's pairs; NaN for a group without pairs in the step. */
  double[] groupPairLoss() {
    double[] out = new double[groupPairLossSum.length];
    for (int g = 0; g < out.length; g++) {
      out[g] = groupPairs[g] == 0 ? Double.NaN : groupPairLossSum[g] / groupPairs[g];
    }
    return out;
  }

  /** The kernel's {@code L_g} per group, averaged over the step's micro-batches. */
  double[] groupObjectiveLoss() {
    double[] out = new double[groupObjectiveLossSum.length];
    for (int g = 0; g < out.length; g++) {
      out[g] = groupObjectiveLossSum[g] / microBatches;
    }
    return out;
  }
}
