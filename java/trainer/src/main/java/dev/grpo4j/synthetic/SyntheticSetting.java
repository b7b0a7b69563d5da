package dev.grpo4j.synthetic;

import java.util.Locale;

/**
 * The three settings of the paper's synthetic figures, with the defaults of its reproduction scripts
 * ({@code scripts/scripts to reproduce/*.sh}, 20 seeds 2021-2040, 300 training pairs, full batch, {@code theta0 ~
 * U(0,5)^4}; SPEC §4). "Imbalanced": group 0 holds 20 % of the training pairs, group 1 80 %; "balanced": 50/50.
 * "Uneven": group 0 compares neighbouring actions (harder to tell apart), group 1 opposite ones; "even": two
 * distinct actions uniformly for both groups. In the imbalanced settings the minority group is group 0.
 */
public enum SyntheticSetting {
  UNEVEN_IMBALANCED("uneven-imbalanced", true, 0.2, 0.9, 1.0, 0.5, 20_000),
  EVEN_IMBALANCED("even-imbalanced", false, 0.2, 0.5, 1.0, 0.9, 10_000),
  UNEVEN_BALANCED("uneven-balanced", true, 0.5, 5.0, 2.0, 0.01, 5_000);

  private final String id;
  private final boolean uneven;
  private final double group0Share;
  private final double learningRate;
  private final double beta;
  private final double eta;
  private final int iterations;

  SyntheticSetting(String id, boolean uneven, double group0Share, double learningRate, double beta, double eta,
                   int iterations) {
    this.id = id;
    this.uneven = uneven;
    this.group0Share = group0Share;
    this.learningRate = learningRate;
    this.beta = beta;
    this.eta = eta;
    this.iterations = iterations;
  }

  public String id() {
    return id;
  }

  public boolean uneven() {
    return uneven;
  }

  /** Share of group 0 in the training pairs. */
  public double group0Share() {
    return group0Share;
  }

  public double learningRate() {
    return learningRate;
  }

  public double beta() {
    return beta;
  }

  public double eta() {
    return eta;
  }

  public int iterations() {
    return iterations;
  }

  /** Parses an id such as {@code uneven-imbalanced} (case-insensitive; underscores accepted). */
  public static SyntheticSetting parse(String text) {
    String key = text.strip().toLowerCase(Locale.ROOT).replace('_', '-');
    for (SyntheticSetting s : values()) {
      if (s.id.equals(key)) {
        return s;
      }
    }
    throw new IllegalArgumentException("unknown setting '" + text + "'; choose from "
        + java.util.Arrays.stream(values()).map(SyntheticSetting::id).toList());
  }

  @Override
  public String toString() {
    return id;
  }
}
