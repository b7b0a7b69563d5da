package dev.grpo4j.train;

import dev.grpo4j.LossType;
import dev.grpo4j.Weighting;
import java.util.Arrays;
import java.util.Locale;

/**
 * The preference-optimisation methods the trainer offers: a per-pair loss (DPO's sigmoid or IPO's square) and a way
 * to combine the groups (the plain mean, fixed importance weights {@code 1/N_g}, or the paper's robust weights).
 */
public enum Method {
  DPO(LossType.DPO, Weighting.AVERAGE),
  IPO(LossType.IPO, Weighting.AVERAGE),
  IS_DPO(LossType.DPO, Weighting.IMPORTANCE_SAMPLING),
  IS_IPO(LossType.IPO, Weighting.IMPORTANCE_SAMPLING),
  GR_DPO(LossType.DPO, Weighting.ROBUST),
  GR_IPO(LossType.IPO, Weighting.ROBUST);

  /** The largest {@code --beta} taken. */
  public static final double MAX_BETA = 1e4;

  private final LossType lossType;
  private final Weighting weighting;

  Method(LossType lossType, Weighting weighting) {
    this.lossType = lossType;
    this.weighting = weighting;
  }

  public LossType lossType() {
    return lossType;
  }

  public Weighting weighting() {
    return weighting;
  }

  /**
   * Checks the loss options that only some methods take, naming their flags: {@code --label-smoothing} belongs to
   * the DPO methods, {@code --ipo-length-normalization} to the IPO ones.
   *
   * @throws IllegalArgumentException for an option this method does not take, or a value out of its range
   */
  public void requireLossOptions(double beta, double labelSmoothing, boolean ipoLengthNormalization) {
    if (!(beta > 0 && beta <= MAX_BETA)) {
      throw new IllegalArgumentException("--beta = " + beta + ": must be in (0, " + MAX_BETA + "] (typical: 0.01 to "
          + "0.5; beyond that the implicit reward saturates at once)");
    }
    if (labelSmoothing != 0 && lossType != LossType.DPO) {
      throw new IllegalArgumentException("--label-smoothing applies to the DPO methods (dpo, is-dpo, gr-dpo) only; "
          + "--method " + cliName() + " is an IPO method: drop it");
    }
    if (ipoLengthNormalization && lossType != LossType.IPO) {
      throw new IllegalArgumentException("--ipo-length-normalization applies to the IPO methods (ipo, is-ipo, "
          + "gr-ipo) only; --method " + cliName() + " is a DPO method: drop it, or choose an IPO method");
    }
  }

  /** The command-line and run-file name: {@code gr-dpo}, {@code is-ipo}, ... */
  public String cliName() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** The paper's spelling: {@code GR-DPO}, {@code IS-IPO}, ... */
  public String displayName() {
    return name().replace('_', '-');
  }

  /**
   * The method called {@code name} ({@code gr-dpo}, {@code GR_DPO} and {@code GR-DPO} are all accepted).
   *
   * @throws IllegalArgumentException naming the valid methods if there is none
   */
  public static Method parse(String name) {
    String key = name.strip().toUpperCase(Locale.ROOT).replace('-', '_');
    for (Method m : values()) {
      if (m.name().equals(key)) {
        return m;
      }
    }
    throw new IllegalArgumentException("unknown method \"" + name + "\": use one of "
        + Arrays.stream(values()).map(Method::cliName).toList());
  }
}
