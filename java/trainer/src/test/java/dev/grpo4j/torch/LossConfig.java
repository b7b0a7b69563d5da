package dev.grpo4j.torch;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupNormalization;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LossType;
import dev.grpo4j.Weighting;

/** One loss configuration of the tests, with a readable name for parameterised test output. */
record LossConfig(String name, LossType lossType, Weighting weighting, GroupNormalization normalization, double beta,
                  double labelSmoothing, boolean ipoLengthNorm, double eta, double chi, double adjustment) {

  /** A CPU loss with these options over groups of data-set sizes {@code groupSizes} (K = its length). */
  GroupRobustLoss build(long[] groupSizes) {
    return GroupRobustLoss.builder().lossType(lossType).weighting(weighting).groupNormalization(normalization)
        .beta(beta).labelSmoothing(labelSmoothing).ipoLengthNormalization(ipoLengthNorm).eta(eta).chi(chi)
        .adjustment(adjustment).groupSizes(groupSizes).backend(Backend.CPU).build();
  }

  @Override
  public String toString() {
    return name;
  }
}
