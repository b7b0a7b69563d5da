package dev.grpo4j.train;

import static dev.grpo4j.train.TrainConfig.require;

import dev.grpo4j.FDivergence;

/**
 * The options only some pair losses read; a run without any of them set keeps none (its run file stays as before).
 *
 * @param fDivergence {@code --f-divergence}
 * @param alphaDivergence {@code --alpha-divergence}: alpha of alpha_divergence
 * @param discopopTau {@code --discopop-tau}
 * @param simpoGamma {@code --simpo-gamma}
 */
public record LossParameters(FDivergence fDivergence, double alphaDivergence, double discopopTau, double simpoGamma) {
  /** TRL's defaults. */
  public static final LossParameters DEFAULTS = new LossParameters(FDivergence.REVERSE_KL, 0.5, 0.05, 0.5);

  public LossParameters {
    fDivergence = fDivergence == null ? FDivergence.REVERSE_KL : fDivergence;
    require(Double.isFinite(alphaDivergence), "--alpha-divergence = " + alphaDivergence + ": must be finite");
    require(discopopTau > 0 && Double.isFinite(discopopTau), "--discopop-tau = " + discopopTau
        + ": must be finite and > 0 (TRL: 0.05)");
    require(Double.isFinite(simpoGamma), "--simpo-gamma = " + simpoGamma + ": must be finite");
  }

  /** Null for the defaults, so that a run file written before these options equals one written without them. */
  public static LossParameters orNull(LossParameters p) {
    return p == null || p.equals(DEFAULTS) ? null : p;
  }
}
