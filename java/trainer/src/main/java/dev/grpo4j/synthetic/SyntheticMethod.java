package dev.grpo4j.synthetic;

import dev.grpo4j.LossType;
import dev.grpo4j.Weighting;
import dev.grpo4j.train.Method;
import java.util.Arrays;
import java.util.Locale;

/**
 * The methods of the paper's synthetic comparison: the trainer's {@link Method}s, each a configuration of the fused
 * loss ({@link dev.grpo4j.GroupRobustLoss}), plus GR-IPO's closed form, which sets the parameter to the weighted
 * least-squares minimiser after each weight update instead of taking a gradient step.
 */
public enum SyntheticMethod {
  DPO(Method.DPO, false),
  IPO(Method.IPO, false),
  IS_DPO(Method.IS_DPO, false),
  IS_IPO(Method.IS_IPO, false),
  GR_DPO(Method.GR_DPO, false),
  GR_IPO(Method.GR_IPO, false),
  /** GR-IPO with the parameter set to the weighted least-squares minimiser after each weight update. */
  GR_IPO_CLOSED_FORM(Method.GR_IPO, true);

  private final Method method;
  private final boolean closedForm;

  SyntheticMethod(Method method, boolean closedForm) {
    this.method = method;
    this.closedForm = closedForm;
  }

  /** The name in tables, CSV files and on the command line: the method's, e.g. {@code GR-DPO}, or GR-IPO-CF. */
  public String label() {
    return method.displayName() + (closedForm ? "-CF" : "");
  }

  /** The loss configuration, shared with the trainer. */
  public Method method() {
    return method;
  }

  public LossType lossType() {
    return method.lossType();
  }

  public Weighting weighting() {
    return method.weighting();
  }

  public boolean closedForm() {
    return closedForm;
  }

  /** Parses a label ({@code GR-DPO}), case-insensitively, also accepting the enum name ({@code GR_DPO}). */
  public static SyntheticMethod parse(String text) {
    String key = text.strip().toUpperCase(Locale.ROOT);
    for (SyntheticMethod m : values()) {
      if (m.label().toUpperCase(Locale.ROOT).equals(key) || m.name().equals(key)) {
        return m;
      }
    }
    throw new IllegalArgumentException("unknown method '" + text + "'; choose from "
        + Arrays.stream(values()).map(SyntheticMethod::label).toList());
  }

  @Override
  public String toString() {
    return label();
  }
}
