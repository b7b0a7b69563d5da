package dev.grpo4j;

import dev.grpo4j.ffm.LossKernel;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/** The checks of a loss choice (terms, f-divergence and each loss's own options), with messages that say the fix. */
final class LossChoice {
  private LossChoice() {}

  static void validate(List<LossTerm> losses, double labelSmoothing, boolean ipoLengthNormalization,
                       FDivergence fDivergence, double alphaDivergence, double discopopTau, double simpoGamma) {
    if (losses.isEmpty() || losses.size() > LossKernel.MAX_LOSS_TERMS) {
      throw new IllegalArgumentException("losses has " + losses.size() + " terms: give 1 to "
          + LossKernel.MAX_LOSS_TERMS);
    }
    String names = losses.stream().map(t -> t.loss().name()).collect(Collectors.joining(","));
    if (labelSmoothing != 0 && losses.stream().noneMatch(t -> t.loss().usesLabelSmoothing())) {
      throw new IllegalArgumentException("labelSmoothing = " + labelSmoothing + " but loss " + names
          + " does not read it; set it to 0, or use a loss that does: " + namesWhere(PairLoss::usesLabelSmoothing));
    }
    for (LossTerm t : losses) {
      PairLoss loss = t.loss();
      if (loss.needsLabelSmoothing() && !(labelSmoothing > 0)) {
        throw new IllegalArgumentException("loss " + loss.name() + " takes log(labelSmoothing): set labelSmoothing > 0"
            + " (EXO suggests 1e-3)");
      }
      if (fDivergence != FDivergence.REVERSE_KL && !loss.takesFDivergence()) {
        throw new IllegalArgumentException("loss " + loss.name() + " reads the log-ratios themselves and takes no "
            + "f-divergence; use " + FDivergence.REVERSE_KL.trlName() + ", or one of "
            + namesWhere(PairLoss::takesFDivergence));
      }
      if (loss.usesDiscopopTau() && !(discopopTau > 0 && Double.isFinite(discopopTau))) {
        throw new IllegalArgumentException("discopopTau = " + discopopTau + ": must be finite and > 0 (TRL: 0.05)");
      }
      if (loss.usesSimpoGamma() && !Double.isFinite(simpoGamma)) {
        throw new IllegalArgumentException("simpoGamma = " + simpoGamma + ": must be finite");
      }
    }
    if (ipoLengthNormalization && losses.stream().noneMatch(t -> t.loss().name().equals("ipo"))) {
      throw new IllegalArgumentException("ipoLengthNormalization applies to the ipo loss only, not " + names);
    }
    if (fDivergence == FDivergence.ALPHA_DIVERGENCE && !Double.isFinite(alphaDivergence)) {
      throw new IllegalArgumentException("alphaDivergence = " + alphaDivergence + ": must be finite");
    }
  }

  private static String namesWhere(Predicate<PairLoss> test) {
    return PairLoss.all().stream().filter(test).map(PairLoss::name).collect(Collectors.joining(", "));
  }
}
