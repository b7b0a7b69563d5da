package dev.grpo4j;

import dev.grpo4j.ffm.LossTable;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * One per-pair preference loss of the native loss table, named as TRL 1.13's DPO trainer names it ({@code sigmoid},
 * {@code hinge}, {@code ipo}, ...; {@code simpo} as its CPO trainer computes it). Each has a formula in its pair's
 * sequence log-probs {@code s}, reference log-probs {@code ref} and response lengths {@code n} (README's table of
 * losses), and composes with every {@link Weighting}: the group weights act on the per-pair values.
 *
 * <p>The list comes from the native library itself, so a loss added there is here without a Java change.
 */
public final class PairLoss {
  private static final List<PairLoss> ALL = LossTable.entries().stream().map(PairLoss::new).toList();

  private final LossTable.Entry entry;

  private PairLoss(LossTable.Entry entry) {
    this.entry = entry;
  }

  /** Every loss, in the order of their ABI codes. */
  public static List<PairLoss> all() {
    return ALL;
  }

  /**
   * The loss named {@code name}.
   *
   * @throws IllegalArgumentException naming the losses there are, when none is called so
   */
  public static PairLoss named(String name) {
    Objects.requireNonNull(name, "name");
    for (PairLoss loss : ALL) {
      if (loss.name().equals(name)) {
        return loss;
      }
    }
    throw new IllegalArgumentException("no loss is called '" + name + "'; the losses are "
        + ALL.stream().map(PairLoss::name).collect(Collectors.joining(", ")));
  }

  /** The loss of a {@link LossType}: {@code sigmoid} for DPO, {@code ipo} for IPO. */
  public static PairLoss of(LossType type) {
    return byCode(type.abiCode());
  }

  static PairLoss byCode(int code) {
    for (PairLoss loss : ALL) {
      if (loss.entry.code() == code) {
        return loss;
      }
    }
    throw new IllegalStateException("the native loss table has no code " + code);
  }

  /** TRL's name, e.g. {@code sigmoid}. */
  public String name() {
    return entry.name();
  }

  /** One line of formula, in {@code s}, {@code ref}, {@code x = s - ref}, {@code n}, beta and the loss's options. */
  public String formula() {
    return entry.formula();
  }

  int abiCode() {
    return entry.code();
  }

  /** Whether it reads the reference log-probs; without, the loss is reference-free (e.g. {@code simpo}). */
  public boolean usesReference() {
    return has(LossTable.USES_REFERENCE);
  }

  /** Whether it compares f-divergence scores, so that {@link FDivergence} other than reverse KL applies. */
  public boolean takesFDivergence() {
    return has(LossTable.F_DIVERGENCE);
  }

  /** Whether it reads the label smoothing eps. */
  public boolean usesLabelSmoothing() {
    return has(LossTable.LABEL_SMOOTHING);
  }

  /** Whether it needs {@code eps > 0} ({@code exo_pair} takes its log). */
  public boolean needsLabelSmoothing() {
    return has(LossTable.NEEDS_SMOOTHING);
  }

  /** Whether it reads the response lengths (length-normalised losses). */
  public boolean usesLengths() {
    return has(LossTable.LENGTHS);
  }

  /**
   * Whether it sorts log-ratios across pairs ({@code aot}, {@code aot_unpaired}): within each group's pairs of one
   * call, so that a pair's loss depends on the other pairs of its group in the same batch.
   */
  public boolean sortsWithinGroup() {
    return has(LossTable.SORTS);
  }

  /** Whether it reads DiscoPOP's tau. */
  public boolean usesDiscopopTau() {
    return has(LossTable.TAU);
  }

  /** Whether it reads SimPO's target margin gamma. */
  public boolean usesSimpoGamma() {
    return has(LossTable.GAMMA);
  }

  private boolean has(int flag) {
    return (entry.flags() & flag) != 0;
  }

  @Override
  public String toString() {
    return name();
  }
}
