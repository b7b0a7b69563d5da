package dev.grpo4j.train;

import static dev.grpo4j.train.TrainConfig.require;

import dev.grpo4j.LossTerm;
import dev.grpo4j.PairLoss;
import dev.grpo4j.Weighting;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Pair losses by TRL's names in place of a {@code --method}: one, or a weighted sum of up to four, combined over the
 * groups by a weighting.
 *
 * @param names {@code --loss}, e.g. {@code [sigmoid, sft]}
 * @param weights {@code --loss-weights}, one per name; null: all 1
 * @param weighting {@code --weighting}; null: robust
 */
public record LossTerms(List<String> names, List<Double> weights, Weighting weighting) {
  public LossTerms {
    require(names != null && !names.isEmpty(), "--loss needs at least one loss name");
    names = List.copyOf(names);
    weights = weights == null ? null : List.copyOf(weights);
    require(weights == null || weights.size() == names.size(), "--loss-weights has " + (weights == null ? 0
        : weights.size()) + " values for the " + names.size() + " losses of --loss " + String.join(",", names)
        + ": give one weight per loss");
    for (String name : names) {
      try {
        PairLoss.named(name);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--loss " + name + ": " + e.getMessage(), e);
      }
    }
    if (weights != null) {
      for (double w : weights) {
        require(Double.isFinite(w), "--loss-weights: " + w + " is not a finite number");
      }
    }
  }

  /** The terms for the fused loss. */
  public List<LossTerm> terms() {
    List<LossTerm> terms = new ArrayList<>();
    for (int t = 0; t < names.size(); t++) {
      terms.add(new LossTerm(PairLoss.named(names.get(t)), weights == null ? 1.0 : weights.get(t)));
    }
    return terms;
  }

  public Weighting effectiveWeighting() {
    return weighting == null ? Weighting.ROBUST : weighting;
  }

  /**
   * How runs and reports name it: the weighting's prefix (GR-, IS-, none) and the terms, e.g.
   * {@code GR-sigmoid+0.2*sft}.
   */
  public String label() {
    StringBuilder label = new StringBuilder(switch (effectiveWeighting()) {
      case ROBUST -> "GR-";
      case IMPORTANCE_SAMPLING -> "IS-";
      case AVERAGE -> "";
    });
    for (int t = 0; t < names.size(); t++) {
      double w = weights == null ? 1.0 : weights.get(t);
      label.append(t == 0 ? "" : "+").append(w == 1.0 ? "" : String.format(Locale.ROOT, "%s*", trim(w)))
          .append(names.get(t));
    }
    return label.toString();
  }

  private static String trim(double w) {
    return w == Math.rint(w) ? Long.toString((long) w) : Double.toString(w);
  }
}
