package dev.grpo4j.synthetic;

import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LossTerm;
import dev.grpo4j.LossType;
import dev.grpo4j.PairLoss;
import dev.grpo4j.Weighting;
import dev.grpo4j.train.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * A method of the synthetic comparison: the paper's seven (the trainer's {@link Method}s, each a configuration of the
 * fused loss, plus GR-IPO's closed form, which sets the parameter to the weighted least-squares minimiser after each
 * weight update instead of taking a gradient step), or any pair losses of the table under a weighting, named as the
 * trainer names them ({@code GR-hinge}, {@code IS-aot}, {@code sigmoid_norm}, {@code GR-sigmoid+sft}).
 */
public final class SyntheticMethod {
  public static final SyntheticMethod DPO = paper(Method.DPO, false);
  public static final SyntheticMethod IPO = paper(Method.IPO, false);
  public static final SyntheticMethod IS_DPO = paper(Method.IS_DPO, false);
  public static final SyntheticMethod IS_IPO = paper(Method.IS_IPO, false);
  public static final SyntheticMethod GR_DPO = paper(Method.GR_DPO, false);
  public static final SyntheticMethod GR_IPO = paper(Method.GR_IPO, false);
  /** GR-IPO with the parameter set to the weighted least-squares minimiser after each weight update. */
  public static final SyntheticMethod GR_IPO_CLOSED_FORM = paper(Method.GR_IPO, true);

  private static final List<SyntheticMethod> PAPER = List.of(DPO, IPO, IS_DPO, IS_IPO, GR_DPO, GR_IPO,
      GR_IPO_CLOSED_FORM);

  private final String label;
  private final LossType lossType;
  private final List<PairLoss> losses;
  private final Weighting weighting;
  private final boolean closedForm;

  private SyntheticMethod(String label, LossType lossType, List<PairLoss> losses, Weighting weighting,
                          boolean closedForm) {
    this.label = label;
    this.lossType = lossType;
    this.losses = losses;
    this.weighting = weighting;
    this.closedForm = closedForm;
  }

  private static SyntheticMethod paper(Method method, boolean closedForm) {
    return new SyntheticMethod(method.displayName() + (closedForm ? "-CF" : ""), method.lossType(),
        List.of(PairLoss.of(method.lossType())), method.weighting(), closedForm);
  }

  /** The paper's seven, the experiment's default. */
  public static List<SyntheticMethod> values() {
    return PAPER;
  }

  /** The name in tables, CSV files and on the command line: {@code GR-DPO}, GR-IPO-CF, {@code GR-hinge}. */
  public String label() {
    return label;
  }

  /** DPO or IPO for the paper's methods; null for the losses named by the table. */
  public LossType lossType() {
    return lossType;
  }

  /** What the figures put side by side: the paper's DPO and IPO families, else the losses' names. */
  public String family() {
    if (lossType != null) {
      return lossType.name();
    }
    return String.join("+", losses.stream().map(PairLoss::name).toList());
  }

  public Weighting weighting() {
    return weighting;
  }

  public boolean closedForm() {
    return closedForm;
  }

  /** The fused loss's terms: each loss with weight 1 ({@code ipo} named by the table divides by the lengths). */
  GroupRobustLoss.Builder configure(GroupRobustLoss.Builder builder) {
    builder.losses(losses.stream().map(l -> new LossTerm(l, 1.0)).toList());
    return lossType == null && losses.stream().anyMatch(l -> l.name().equals("ipo"))
        ? builder.ipoLengthNormalization(true) : builder;
  }

  /**
   * Parses a label: one of the paper's ({@code GR-DPO}, {@code gr_dpo}, GR-IPO-CF), or {@code [GR-|IS-]NAME[+NAME...]}
   * with the table's loss names (no prefix: the plain average).
   */
  public static SyntheticMethod parse(String text) {
    String key = text.strip();
    String upper = key.toUpperCase(Locale.ROOT);
    for (SyntheticMethod m : PAPER) {
      if (m.label.toUpperCase(Locale.ROOT).equals(upper) || m.label.replace('-', '_').equals(upper)
          || (m == GR_IPO_CLOSED_FORM && upper.equals("GR_IPO_CLOSED_FORM"))) {
        return m;
      }
    }
    Weighting weighting = Weighting.AVERAGE;
    String names = key;
    if (upper.startsWith("GR-")) {
      weighting = Weighting.ROBUST;
      names = key.substring(3);
    } else if (upper.startsWith("IS-")) {
      weighting = Weighting.IMPORTANCE_SAMPLING;
      names = key.substring(3);
    }
    List<PairLoss> losses = new ArrayList<>();
    for (String name : names.split("\\+")) {
      try {
        losses.add(PairLoss.named(name.strip()));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("unknown method '" + text + "'; choose from "
            + PAPER.stream().map(SyntheticMethod::label).toList() + ", or [GR-|IS-]LOSS[+LOSS...] with a loss of "
            + PairLoss.all().stream().map(PairLoss::name).toList(), e);
      }
    }
    if (losses.size() > 4) {
      throw new IllegalArgumentException("method '" + text + "' sums " + losses.size() + " losses: at most 4");
    }
    return new SyntheticMethod(key, null, List.copyOf(losses), weighting, false);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SyntheticMethod m && m.label.equals(label) && m.closedForm == closedForm;
  }

  @Override
  public int hashCode() {
    return Objects.hash(label, closedForm);
  }

  @Override
  public String toString() {
    return label;
  }
}
