package dev.grpo4j.cli;

import dev.grpo4j.FDivergence;
import dev.grpo4j.PairLoss;
import dev.grpo4j.Weighting;
import dev.grpo4j.train.LossParameters;
import dev.grpo4j.train.LossTerms;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;

/** The pair losses by TRL's names and the options single losses read: shared by {@code train} and {@code eval}. */
final class LossOptions {
  @Option(names = "--loss", split = ",", paramLabel = "NAME[,NAME...]",
      description = "Pair losses by TRL's names, summed per pair (in place of --method): sigmoid, ipo, hinge, "
          + "exo_pair, nca_pair, robust, bco_pair, sppo_hard, aot, aot_unpaired, apo_zero, apo_down, discopop, sft, "
          + "sigmoid_norm, simpo. `grpo4j losses` lists them with their formulas.")
  List<String> loss;

  @Option(names = "--loss-weights", split = ",", paramLabel = "W[,W...]",
      description = "One weight per --loss (default: all 1).")
  List<Double> lossWeights;

  @Option(names = "--weighting", paramLabel = "MODE", converter = WeightingConverter.class,
      description = "With --loss, how the groups combine: average, importance or robust (default: robust).")
  Weighting weighting;

  @Option(names = "--f-divergence", defaultValue = "reverse_kl", paramLabel = "NAME",
      converter = FDivergenceConverter.class,
      description = "Scores the f-divergence losses compare: reverse_kl, forward_kl, js_divergence or "
          + "alpha_divergence (default: ${DEFAULT-VALUE}).")
  FDivergence fDivergence;

  @Option(names = "--alpha-divergence", defaultValue = "0.5", paramLabel = "A",
      description = "alpha of --f-divergence alpha_divergence (default: ${DEFAULT-VALUE}).")
  double alphaDivergence;

  @Option(names = "--discopop-tau", defaultValue = "0.05", paramLabel = "TAU",
      description = "tau of the discopop loss (default: ${DEFAULT-VALUE}).")
  double discopopTau;

  @Option(names = "--simpo-gamma", defaultValue = "0.5", paramLabel = "GAMMA",
      description = "Target margin gamma of the simpo loss (default: ${DEFAULT-VALUE}).")
  double simpoGamma;

  /** The --loss terms, or null without --loss (then --method chooses). */
  LossTerms terms() {
    if (loss == null) {
      if (lossWeights != null || weighting != null) {
        throw new IllegalArgumentException((lossWeights != null ? "--loss-weights" : "--weighting") + " goes with "
            + "--loss; --method names its own loss and weighting");
      }
      return null;
    }
    return new LossTerms(loss, lossWeights, weighting);
  }

  LossParameters parameters() {
    return new LossParameters(fDivergence, alphaDivergence, discopopTau, simpoGamma);
  }

  /** The lines of {@code grpo4j losses}: every loss of the native table with its formula. */
  static String table() {
    int width = PairLoss.all().stream().mapToInt(l -> l.name().length()).max().orElse(0);
    return PairLoss.all().stream()
        .map(l -> String.format(Locale.ROOT, "%-" + width + "s  %s%s", l.name(), l.formula(),
            l.usesReference() ? "" : "  (reference-free)"))
        .collect(Collectors.joining("\n"));
  }

  static final class WeightingConverter implements ITypeConverter<Weighting> {
    @Override
    public Weighting convert(String value) {
      return switch (value.strip().toLowerCase(Locale.ROOT)) {
        case "average" -> Weighting.AVERAGE;
        case "importance", "importance_sampling" -> Weighting.IMPORTANCE_SAMPLING;
        case "robust" -> Weighting.ROBUST;
        default -> throw new IllegalArgumentException("--weighting " + value + ": use average, importance or robust");
      };
    }
  }

  static final class FDivergenceConverter implements ITypeConverter<FDivergence> {
    @Override
    public FDivergence convert(String value) {
      return FDivergence.named(value.strip());
    }
  }
}
