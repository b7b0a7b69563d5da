package dev.grpo4j;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How a log-ratio {@code x = s - ref} becomes the score that the f-divergence losses compare (TRL's
 * {@code f_divergence_type}; Wang et al. 2023). Only losses with {@link PairLoss#takesFDivergence()} accept one other
 * than {@link #REVERSE_KL}.
 */
public enum FDivergence {
  /** {@code x}: standard DPO. */
  REVERSE_KL(0),
  /** {@code 1 - exp(-x)}. */
  FORWARD_KL(1),
  /** {@code log 2 + log sigmoid(x)}. */
  JS_DIVERGENCE(2),
  /** {@code (exp((a-1) x) - 1) / (a-1)}, with {@code (a-1) x} clamped at 80 as TRL does; {@code x} when a = 1. */
  ALPHA_DIVERGENCE(3);

  private final int abiCode;

  FDivergence(int abiCode) {
    this.abiCode = abiCode;
  }

  int abiCode() {
    return abiCode;
  }

  /** TRL's name: {@code reverse_kl}, {@code forward_kl}, {@code js_divergence}, {@code alpha_divergence}. */
  public String trlName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The divergence of TRL's name. */
  public static FDivergence named(String name) {
    for (FDivergence f : values()) {
      if (f.trlName().equals(name)) {
        return f;
      }
    }
    throw new IllegalArgumentException("no f-divergence is called '" + name + "'; use one of "
        + Arrays.stream(values()).map(FDivergence::trlName).collect(Collectors.joining(", ")));
  }
}
