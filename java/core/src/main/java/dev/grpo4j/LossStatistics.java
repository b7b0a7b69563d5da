package dev.grpo4j;

import dev.grpo4j.ffm.LossKernel;

/**
 * Phase 1 of a loss call on one batch ({@link GroupRobustLoss#statistics}): the per-pair values and the batch's
 * {@link GroupStatistics}. Computed from logits, it also stands for native state the gradient of the same batch
 * needs, kept by the loss until its next {@code statistics} call: {@link GroupRobustLoss#gradient} takes it only
 * until then. Computed from sequence log-probs ({@link GroupRobustLoss#statistics(SequenceBatch)}), it carries
 * what {@link GroupRobustLoss#sequenceGradient} needs itself and stays usable.
 */
public final class LossStatistics {
  private final GroupRobustLoss owner;
  private final PreferenceBatch batch;
  private final SequenceBatch sequences;
  private final double[] dloss;
  private final GroupStatistics groupStatistics;
  private final float[][] pair;
  private final long generation;

  LossStatistics(GroupRobustLoss owner, PreferenceBatch batch, int groups, LossKernel.Statistics statistics) {
    this.owner = owner;
    this.batch = batch;
    this.sequences = null;
    this.dloss = null;
    this.groupStatistics = GroupStatistics.fromArray(groups, statistics.groupStats());
    this.pair = statistics.pair();
    this.generation = statistics.generation();
  }

  LossStatistics(GroupRobustLoss owner, SequenceBatch sequences, int groups,
                 LossKernel.SequenceStatistics statistics) {
    this.owner = owner;
    this.batch = null;
    this.sequences = sequences;
    this.dloss = statistics.dloss();
    this.groupStatistics = GroupStatistics.fromArray(groups, statistics.groupStats());
    this.pair = statistics.pair();
    this.generation = -1;
  }

  /** The batch's per-group sums, to combine with other batches' or ranks' before the group step. */
  public GroupStatistics groupStatistics() {
    return groupStatistics;
  }

  /** The batch these statistics belong to; null when they come from sequence log-probs. */
  public PreferenceBatch batch() {
    return batch;
  }

  /** The sequence log-probs these statistics come from; null when they come from logits. */
  public SequenceBatch sequences() {
    return sequences;
  }

  public int numPairs() {
    return pair[0].length;
  }

  /** Per-pair loss l_i of the batch's pairs. */
  public float[] pairLosses() {
    return pair[0].clone();
  }

  /**
   * {@code dl_i/ds_r} of every row (chosen rows, then rejected rows) of statistics computed from sequence log-probs:
   * the pair's own factor of {@link GroupRobustLoss#sequenceGradient}, which multiplies it by the coefficient of the
   * pair's group ({@link GroupStep#coefficients}). It depends on the pair alone, so a caller holding some whole pairs
   * (e.g. one chunk of a fused LM head) can take their statistics and start their gradient before the group step,
   * which needs every pair, and scale that gradient by the group coefficients afterwards.
   *
   * @throws IllegalStateException for statistics computed from logits, which keep theirs in the loss's native state
   */
  public double[] pairLossGradients() {
    if (dloss == null) {
      throw new IllegalStateException("statistics come from logits: their dl/ds stays inside the loss; compute "
          + "statistics from a SequenceBatch to read it");
    }
    return dloss.clone();
  }

  GroupRobustLoss owner() {
    return owner;
  }

  float[][] pair() {
    return pair;
  }

  long generation() {
    return generation;
  }

  double[] dloss() {
    return dloss;
  }
}
