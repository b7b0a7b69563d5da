package dev.grpo4j.train;

import static dev.grpo4j.train.TrainConfig.require;

import dev.grpo4j.GroupNormalization;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.Weighting;

/**
 * The preference objective: the method, its pair loss's settings and the group weights' update.
 *
 * @param method {@code --method}
 * @param beta {@code --beta}
 * @param eta {@code --eta}
 * @param chi {@code --chi}
 * @param adjustment {@code --adjustment}
 * @param groupNormalization {@code --group-normalization}
 * @param labelSmoothing {@code --label-smoothing}
 * @param ipoLengthNormalization {@code --ipo-length-normalization}
 * @param groupUpdate {@code --group-update}; null (run folders written before the option) reads as per micro-batch
 */
public record LossSpec(Method method, double beta, double eta, double chi, double adjustment,
    GroupNormalization groupNormalization, double labelSmoothing, boolean ipoLengthNormalization,
    GroupUpdate groupUpdate) {

  /** The largest {@code --eta} (and {@code --adjustment}) taken. */
  public static final double MAX_ETA = 1e4;

  public LossSpec {
    groupUpdate = groupUpdate == null ? GroupUpdate.PER_MICRO_BATCH : groupUpdate;
    require(method != null, "--method is required: one of dpo, ipo, is-dpo, is-ipo, gr-dpo, gr-ipo");
    method.requireLossOptions(beta, labelSmoothing, ipoLengthNormalization);
    require(eta >= 0 && eta <= MAX_ETA, "--eta = " + eta + ": must be in [0, " + MAX_ETA + "] (the paper uses 0.01 "
        + "to 1; a step of exp(eta * loss) past that puts all weight on one group at once)");
    require(chi >= 0 && chi <= 1, "--chi = " + chi + ": must be in [0, 1]");
    require(adjustment >= 0 && adjustment <= MAX_ETA, "--adjustment = " + adjustment + ": must be in [0, " + MAX_ETA
        + "]");
    require(labelSmoothing >= 0 && labelSmoothing < 0.5, "--label-smoothing = " + labelSmoothing
        + ": must be in [0, 0.5)");
    require(groupNormalization != null, "--group-normalization is required: dataset_frequency or batch_mean");
  }

  /**
   * {@code method} with the {@code train} command's defaults: beta 0.1, eta 0.01, chi 1, no adjustment, the
   * paper's dataset-frequency group losses, no label smoothing or length normalisation, an update per micro-batch.
   */
  public static LossSpec of(Method method) {
    return new LossSpec(method, 0.1, 0.01, 1, 0, GroupNormalization.DATASET_FREQUENCY, 0, false,
        GroupUpdate.PER_MICRO_BATCH);
  }

  /**
   * The fused loss these settings describe over {@code groups} groups of {@code groupSizes} training pairs, on
   * {@code placement}'s backend and stream with {@code threads} CPU threads.
   */
  public GroupRobustLoss build(int groups, long[] groupSizes, ModelSource.Placement placement, int threads) {
    return GroupRobustLoss.builder()
        .lossType(method.lossType())
        .weighting(method.weighting())
        .beta(beta)
        .eta(eta)
        .chi(chi)
        .adjustment(method.weighting() == Weighting.ROBUST ? adjustment : 0)
        .labelSmoothing(labelSmoothing)
        .ipoLengthNormalization(ipoLengthNormalization)
        .groupNormalization(groupNormalization)
        .groups(groups)
        .groupSizes(groupSizes)
        .backend(placement.backend())
        .cudaStream(placement.cudaStream())
        .threads(threads)
        .build();
  }

  public LossSpec withBeta(double beta) {
    return new LossSpec(method, beta, eta, chi, adjustment, groupNormalization, labelSmoothing,
        ipoLengthNormalization, groupUpdate);
  }

  public LossSpec withEta(double eta) {
    return new LossSpec(method, beta, eta, chi, adjustment, groupNormalization, labelSmoothing,
        ipoLengthNormalization, groupUpdate);
  }
}
