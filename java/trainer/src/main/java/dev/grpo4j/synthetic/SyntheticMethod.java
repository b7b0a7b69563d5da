package dev.grpo4j.synthetic;

import dev.grpo4j.LossType;
import dev.grpo4j.Weighting;
import java.util.Locale;

/**
 * The methods of the paper's synthetic comparison. Each is a configuration of the fused loss
 * ({@link dev.grpo4j.GroupRobustLoss}): the loss type, the group weighting and, for GR-IPO's closed form, how the
 * parameter is updated.
 */
public enum SyntheticMethod {
  DPO("DPO", LossType.DPO, Weighting.AVERAGE, false),
  IPO("IPO", LossType.IPO, Weighting.AVERAGE, false),
  IS_DPO("IS-DPO", LossType.DPO, Weighting.IMPORTANCE_SAMPLING, false),
  IS_IPO("IS-IPO", LossType.IPO, Weighting.IMPORTANCE_SAMPLING, false),
  GR_DPO("GR-DPO", LossType.DPO, Weighting.ROBUST, false),
  GR_IPO("GR-IPO", LossType.IPO, Weighting.ROBUST, false),
  /** GR-IPO with the parameter set to the weighted least-squares minimiser after each weight update. */
  GR_IPO_CLOSED_FORM("GR-IPO-CF", LossType.IPO, Weighting.ROBUST, true);

  private final String label;
  private final LossType lossType;
  private final Weighting weighting;
  private final boolean closedForm;

  SyntheticMethod(String label, LossType lossType, Weighting weighting, boolean closedForm) {
    this.label = label;
    this.lossType = lossType;
    this.weighting = weighting;
    this.closedForm = closedForm;
  }

  /** The name in tables, CSV files and on the command line, e.g. {@code GR-DPO}. */
  public String label() {
    return label;
  }

  public LossType lossType() {
    return lossType;
  }

  public Weighting weighting() {
    return weighting;
  }

  public boolean closedForm() {
    return closedForm;
  }

  /** Parses a label ({@code GR-DPO}), case-insensitively, also accepting the enum name ({@code GR_DPO}). */
  public static SyntheticMethod parse(String text) {
    String key = text.strip().toUpperCase(Locale.ROOT);
    for (SyntheticMethod m : values()) {
      if (m.label.toUpperCase(Locale.ROOT).equals(key) || m.name().equals(key)) {
        return m;
      }
    }
    throw new IllegalArgumentException("unknown method '" + text + "'; choose from "
        + java.util.Arrays.stream(values()).map(SyntheticMethod::label).toList());
  }

  @Override
  public String toString() {
    return label;
  }
}
