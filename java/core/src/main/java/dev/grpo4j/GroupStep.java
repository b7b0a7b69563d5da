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

  /**
   * This step with every coefficient times {@code factor}: what {@link GroupRobustLoss#gradient} and
   * {@link GroupRobustLoss#sequenceGradient} turn into the gradient of {@code factor * J}, e.g. a micro-batch's share
   * of a step under gradient accumulation or over data-parallel ranks. The factor rides on the coefficients, so the
   * gradient is rounded once, with no extra pass over it; the objective and the group outputs are unchanged.
   */
  public GroupStep scaled(double factor) {
    if (!Double.isFinite(factor)) {
      throw new IllegalArgumentException("factor = " + factor + ": must be finite");
    }
    double[] coef = step.coef().clone();
    for (int g = 0; g < coef.length; g++) {
      coef[g] *= factor;
    }
    return new GroupStep(new LossKernel.Step(step.loss(), step.group(), step.groupCount(), coef));
  }

  /**
   * Refuses to scale {@code statistics}' pairs by this step unless it was computed from statistics that include
   * them: the same K, and for every group at least as many pairs as they hold. Otherwise a group's coefficient
   * could be that of a step that never saw its pairs (zero when it saw none) and its gradient would be silently
   * lost.
   */
  void requireCovers(GroupStatistics statistics) {
    int[] counts = step.groupCount();
    if (counts.length != statistics.groups()) {
      throw new IllegalArgumentException("the group step is of " + counts.length + " groups but the statistics of "
          + statistics.groups() + ": take the step from statistics of this loss");
    }
    for (int g = 0; g < counts.length; g++) {
      if (counts[g] < statistics.pairs(g)) {
        throw new IllegalArgumentException("the group step counts " + counts[g] + " pairs of group " + g + " but the "
            + "statistics alone hold " + statistics.pairs(g) + ": the step must come from statistics that include "
            + "these (a GroupSync sums every rank's statistics, this rank's too)");
      }
    }
  }

  LossKernel.Step kernelStep() {
    return step;
  }
}
