package dev.grpo4j.train;

import static dev.grpo4j.train.TrainConfig.require;

/**
 * AdamW's settings, the learning-rate schedule and clipping.
 *
 * @param learningRate {@code --lr}
 * @param weightDecay {@code --weight-decay}
 * @param warmupSteps {@code --warmup-steps}
 * @param decay {@code --schedule}
 * @param plateauPatience {@code --plateau-patience}, negative for off
 * @param plateauFactor {@code --plateau-factor}
 * @param minLearningRate {@code --min-lr}
 * @param maxGradNorm {@code --max-grad-norm}, 0 for no clipping
 * @param exemptNormsAndBiases whether weight decay spares biases and norm weights, as transformers' {@code Trainer}
 *     does (not {@code --decay-norms-and-biases}); false (run folders written before the option) decays every
 *     parameter
 */
public record OptimizerSpec(double learningRate, double weightDecay, int warmupSteps,
    LearningRateSchedule.Decay decay, int plateauPatience, double plateauFactor, double minLearningRate,
    double maxGradNorm, boolean exemptNormsAndBiases) {

  public OptimizerSpec {
    require(learningRate > 0 && Double.isFinite(learningRate), "--lr = " + learningRate + ": must be > 0");
    require(weightDecay >= 0 && Double.isFinite(weightDecay), "--weight-decay = " + weightDecay + ": must be >= 0");
    require(warmupSteps >= 0, "--warmup-steps = " + warmupSteps + ": must be >= 0");
    require(decay != null, "--schedule is required: constant, linear or cosine");
    require(minLearningRate >= 0 && minLearningRate <= learningRate, "--min-lr = " + minLearningRate
        + ": must be in [0, --lr]");
    require(maxGradNorm >= 0 && Double.isFinite(maxGradNorm), "--max-grad-norm = " + maxGradNorm
        + ": must be >= 0 (0: no clipping)");
    require(plateauFactor > 0 && plateauFactor < 1, "--plateau-factor = " + plateauFactor + ": must be in (0, 1)");
  }

  /**
   * AdamW at a constant {@code learningRate} with the {@code train} command's defaults: no weight decay (and where
   * there is some, not on biases and norm weights), warm-up or plateau, the gradient clipped to norm 1.
   */
  public static OptimizerSpec adamW(double learningRate) {
    return new OptimizerSpec(learningRate, 0, 0, LearningRateSchedule.Decay.CONSTANT, -1, 0.5, 0, 1.0, true);
  }

  public OptimizerSpec withMaxGradNorm(double maxGradNorm) {
    return new OptimizerSpec(learningRate, weightDecay, warmupSteps, decay, plateauPatience, plateauFactor,
        minLearningRate, maxGradNorm, exemptNormsAndBiases);
  }

  /** The reduce-on-plateau scaler, or null when off. */
  public PlateauScaler plateau() {
    return plateauPatience < 0 ? null
        : new PlateauScaler(plateauPatience, plateauFactor, 1e-4, Math.max(minLearningRate / learningRate, 1e-12));
  }
}
