package dev.grpo4j.train;

import java.util.Locale;

/**
 * The learning rate of step {@code s} (1-based) of {@code total}: a linear warm-up from {@code base / warmup} to
 * {@code base} over the first {@code warmup} steps, then {@link Decay constant, linear or cosine} decay to 0 at
 * step {@code total + 1}. Reduce-on-plateau ({@link PlateauScaler}) multiplies on top of it.
 *
 * @param base peak learning rate
 * @param warmup warm-up steps ({@code 0 <= warmup <= total})
 * @param total optimiser steps of the run
 * @param decay shape after the warm-up
 */
public record LearningRateSchedule(double base, int warmup, int total, Decay decay) {
  /** Shape of the schedule after the warm-up. */
  public enum Decay {
    CONSTANT, LINEAR, COSINE;

    public String cliName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  public LearningRateSchedule {
    if (!(base > 0) || !Double.isFinite(base)) {
      throw new IllegalArgumentException("learning rate = " + base + ": must be a positive number");
    }
    if (total < 1) {
      throw new IllegalArgumentException("total steps = " + total + ": must be >= 1");
    }
    if (warmup < 0 || warmup > total) {
      throw new IllegalArgumentException("warm-up steps = " + warmup + ": must be in 0.." + total
          + " (the run's steps)");
    }
  }

  /** The learning rate of 1-based step {@code step}. */
  public double at(int step) {
    if (step < 1 || step > total) {
      throw new IllegalArgumentException("step " + step + " is outside 1.." + total);
    }
    if (step <= warmup) {
      return base * step / warmup;
    }
    // Fraction of the decay phase done before this step: 0 for the first step after the warm-up, so the peak is
    // used once, and (total - warmup - 1) / (total - warmup) for the last, so the rate never reaches 0.
    double progress = (double) (step - warmup - 1) / (total - warmup);
    return switch (decay) {
      case CONSTANT -> base;
      case LINEAR -> base * (1 - progress);
      case COSINE -> base * 0.5 * (1 + Math.cos(Math.PI * progress));
    };
  }
}
