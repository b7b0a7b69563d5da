package dev.grpo4j;

/**
 * How {@link GroupRobustLoss#forwardBackward(PreferenceBatch, java.lang.foreign.MemorySegment, GroupSync)} combines
 * the group statistics of data-parallel ranks before the group step: replace this rank's sums by the element-wise
 * sum over all ranks (an all-reduce with SUM, e.g. over c10d, MPI or the embedder's own transport). Every rank then
 * runs the same group step on the same numbers, so the group weights stay identical on every rank.
 */
@FunctionalInterface
public interface GroupSync {
  /** One process: the statistics stay as they are. */
  GroupSync LOCAL = sums -> { };

  /**
   * Sums {@code sums} element-wise over all ranks, in place. Every rank must call this for each batch, with arrays
   * of the same length ({@link GroupStatistics#COLUMNS} per group).
   *
   * @param sums this rank's group statistics ({@link GroupStatistics#toArray()} layout)
   */
  void allReduce(double[] sums);
}
