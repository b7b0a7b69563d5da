package dev.grpo4j.train;

import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.GroupStatistics;
import dev.grpo4j.GroupStep;
import dev.grpo4j.LossStatistics;
import dev.grpo4j.dist.DataParallel;
import dev.grpo4j.torch.EncodedPairs;
import java.util.Arrays;

/**
 * One round of micro-batches on data-parallel ranks, with the group steps one process would take. Rank r holds
 * micro-batch {@code m = round * W + r}; after its statistics, every rank gathers all ranks' and takes the group
 * step of each micro-batch in order of m, so that every rank's weights move as one process's would over those
 * micro-batches (with the per-micro-batch update; with the per-step one they stay and only the step's sums are
 * kept). Each rank keeps the step of its own micro-batch for its gradient, and every micro-batch's objective and
 * sums for the step's metrics.
 *
 * <p>What travels per micro-batch: the group statistics and, per group, the sum of the pairs' losses as one
 * process sums them for its logs (K x 8 doubles).
 */
final class MicroBatchReplay {
  private final GroupRobustLoss loss;
  private final DataParallel dp;
  private final EncodedPairs data;
  private final int[][] microBatches;
  private final boolean perStep;
  private final int groups;
  private GroupStatistics[] statistics;
  private GroupStep[] steps;
  private double[][] pairLossSums;

  MicroBatchReplay(GroupRobustLoss loss, DataParallel dp, EncodedPairs data, int[][] microBatches, boolean perStep) {
    this.loss = loss;
    this.dp = dp;
    this.data = data;
    this.microBatches = microBatches;
    this.perStep = perStep;
    this.groups = loss.groups();
  }

  /** The gather and the replay; returns this rank's step. Called once, between its statistics and its gradient. */
  GroupStep groupStep(LossStatistics local) {
    int columns = GroupStatistics.COLUMNS * groups;
    double[] mine = Arrays.copyOf(local.groupStatistics().toArray(), columns + 2 * groups);
    double[] sums = pairLossSums(local.pairLosses(), data, microBatches[dp.rank()], groups);
    System.arraycopy(sums, 0, mine, columns, 2 * groups);
    double[][] all = dp.allGather(mine);
    int ranks = all.length;
    statistics = new GroupStatistics[ranks];
    steps = new GroupStep[ranks];
    pairLossSums = new double[ranks][];
    for (int r = 0; r < ranks; r++) {
      statistics[r] = GroupStatistics.fromArray(groups, Arrays.copyOf(all[r], columns));
      pairLossSums[r] = Arrays.copyOfRange(all[r], columns, columns + 2 * groups);
      steps[r] = loss.groupStep(statistics[r], !perStep);
    }
    return steps[dp.rank()];
  }

  double objective(int rank) {
    return steps[rank].objective();
  }

  float[] objectiveWeights(int rank) {
    return steps[rank].objectiveWeights();
  }

  float[] groupLosses(int rank) {
    return steps[rank].groupLosses();
  }

  double[] pairLossSums(int rank) {
    return pairLossSums[rank];
  }

  GroupStatistics statistics(int rank) {
    return statistics[rank];
  }

  /**
   * Per group, the sum of the pair losses of {@code pairs} (in pair order, as doubles) and, after the K sums, the
   * number of pairs: what a step's metrics add up.
   */
  private static double[] pairLossSums(float[] pairLosses, EncodedPairs data, int[] pairs, int groups) {
    double[] out = new double[2 * groups];
    for (int b = 0; b < pairs.length; b++) {
      int g = data.group(pairs[b]);
      out[g] += pairLosses[b];
      out[groups + g] += 1;
    }
    return out;
  }
}
