package dev.grpo4j;

import java.util.Arrays;

/**
 * The persistent state of a {@link GroupRobustLoss}: the robust weights {@code alpha} as {@code log alpha} (length K,
 * on the log simplex: {@code logsumexp(logAlpha) = 0}) and the number of training calls made. Save it with a
 * checkpoint, restore it with {@link GroupRobustLoss#restoreState}. Immutable. Weights that do not sum to 1 are
 * refused, not silently renormalised; {@link #ofAlpha} normalises explicitly.
 *
 * @param logAlpha log robust weights, finite, {@code sum_g exp(logAlpha_g) = 1} within {@value #SIMPLEX_TOLERANCE}
 * @param steps training calls so far
 */
public record GroupWeightState(double[] logAlpha, long steps) {
  public GroupWeightState {
    if (logAlpha == null || logAlpha.length == 0) {
      throw new IllegalArgumentException("logAlpha must hold one value per group");
    }
    logAlpha = logAlpha.clone();
    for (int g = 0; g < logAlpha.length; g++) {
      if (!Double.isFinite(logAlpha[g])) {
        throw new IllegalArgumentException("logAlpha[" + g + "] = " + logAlpha[g] + ": must be finite");
      }
    }
    if (steps < 0) {
      throw new IllegalArgumentException("steps = " + steps + ": must be >= 0");
    }
    double total = Math.exp(logSumExp(logAlpha));
    if (!(Math.abs(total - 1) <= SIMPLEX_TOLERANCE)) {
      throw new IllegalArgumentException("logAlpha is not on the log simplex: the weights exp(logAlpha) sum to "
          + total + ", not 1; normalise them (GroupWeightState.ofAlpha(weights, steps) does)");
    }
  }

  /** How far the weights may sum from 1 (double rounding of K logs and exps, with room for values read from text). */
  public static final double SIMPLEX_TOLERANCE = 1e-9;

  /**
   * The state of positive weights {@code alpha}, normalised to sum to 1.
   *
   * @throws IllegalArgumentException if a weight is not finite and positive
   */
  public static GroupWeightState ofAlpha(double[] alpha, long steps) {
    if (alpha == null || alpha.length == 0) {
      throw new IllegalArgumentException("alpha must hold one weight per group");
    }
    double sum = 0;
    for (int g = 0; g < alpha.length; g++) {
      if (!(alpha[g] > 0) || !Double.isFinite(alpha[g])) {
        throw new IllegalArgumentException("alpha[" + g + "] = " + alpha[g] + ": weights must be finite and > 0");
      }
      sum += alpha[g];
    }
    double[] logAlpha = new double[alpha.length];
    for (int g = 0; g < alpha.length; g++) {
      logAlpha[g] = Math.log(alpha[g] / sum);
    }
    double lse = logSumExp(logAlpha);
    for (int g = 0; g < logAlpha.length; g++) {
      logAlpha[g] -= lse;
    }
    return new GroupWeightState(logAlpha, steps);
  }

  private static double logSumExp(double[] values) {
    double max = Double.NEGATIVE_INFINITY;
    for (double v : values) {
      max = Math.max(max, v);
    }
    double sum = 0;
    for (double v : values) {
      sum += Math.exp(v - max);
    }
    return max + Math.log(sum);
  }

  /** Uniform weights over {@code groups} groups, no steps taken. */
  public static GroupWeightState uniform(int groups) {
    double[] logAlpha = new double[groups];
    Arrays.fill(logAlpha, -Math.log(groups));
    return new GroupWeightState(logAlpha, 0);
  }

  @Override
  public double[] logAlpha() {
    return logAlpha.clone();
  }

  /** The weights {@code alpha_g = exp(logAlpha_g)}. */
  public double[] alpha() {
    return Arrays.stream(logAlpha).map(Math::exp).toArray();
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof GroupWeightState s && steps == s.steps && Arrays.equals(logAlpha, s.logAlpha);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(logAlpha) + Long.hashCode(steps);
  }

  @Override
  public String toString() {
    return "GroupWeightState[logAlpha=" + Arrays.toString(logAlpha) + ", steps=" + steps + "]";
  }
}
