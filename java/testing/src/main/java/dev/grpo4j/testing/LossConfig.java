package dev.grpo4j.testing;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupNormalization;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LossType;
import dev.grpo4j.Weighting;

/**
 * One loss configuration, with a readable name for parameterised test output: what both the fused loss and
 * {@link TorchObjective} are built from.
 */
public record LossConfig(String name, LossType lossType, Weighting weighting, GroupNormalization normalization,
                         double beta, double labelSmoothing, boolean ipoLengthNorm, double eta, double chi,
                         double adjustment) {

  /** A fused loss with these options on {@code backend}, over groups of data-set sizes {@code groupSizes}. */
  public GroupRobustLoss build(long[] groupSizes, Backend backend) {
    return GroupRobustLoss.builder().lossType(lossType).weighting(weighting).groupNormalization(normalization)
        .beta(beta).labelSmoothing(labelSmoothing).ipoLengthNormalization(ipoLengthNorm).eta(eta).chi(chi)
        .adjustment(adjustment).groupSizes(groupSizes).backend(backend).build();
  }

  /** A CPU loss with these options. */
  public GroupRobustLoss build(long[] groupSizes) {
    return build(groupSizes, Backend.CPU);
  }

  @Override
  public String toString() {
    return name;
  }
}
