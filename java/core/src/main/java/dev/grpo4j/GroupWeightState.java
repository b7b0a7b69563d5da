package dev.grpo4j;

import java.util.Arrays;

/**
 * The persistent state of a {@link GroupRobustLoss}: log group weights {@code log alpha} (length K, on the
 * log simplex) and the number of training calls made. Save it with a checkpoint, restore it with
 * {@link GroupRobustLoss#restoreState}. Immutable.
 *
 * @param logAlpha log group weights
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
