package dev.grpo4j;

import dev.grpo4j.ffm.LossKernel;

/**
 * Phase 2 of a loss call ({@link GroupRobustLoss#groupStep}): the objective, per-group losses and weights computed
 * from (possibly combined) group statistics, and the coefficients {@link GroupRobustLoss#gradient} scales each
 * pair's gradient by. Immutable; the arrays are copies.
 */
public final class GroupStep {
  private final LossKernel.Step step;

  GroupStep(LossKernel.Step step) {
    this.step = step;
  }

  /** The objective J of the pairs the statistics cover. */
  public double objective() {
    return step.loss();
  }

  public int numGroups() {
    return step.groupCount().length;
  }

  /** L_g as in {@link LossResult#groupLosses()}. */
  public float[] groupLosses() {
    return step.group()[0].clone();
  }

  /** w_g as in {@link LossResult#objectiveWeights()}. */
  public float[] objectiveWeights() {
    return step.group()[1].clone();
  }

  /** Pairs per group in the statistics. */
  public int[] groupCounts() {
    return step.groupCount().clone();
  }

  /** dJ/dl_i for a pair of each group: {@code w_g norm_g}, or 1/B for AVERAGE. */
  public double[] coefficients() {
    return step.coef().clone();
  }

  LossKernel.Step kernelStep() {
    return step;
  }
}
