package dev.grpo4j;

import java.util.Objects;

/**
 * One term of a loss mixture: {@code weight} times {@code loss} per pair (TRL's {@code loss_type} list with
 * {@code loss_weights}).
 */
public record LossTerm(PairLoss loss, double weight) {
  public LossTerm {
    Objects.requireNonNull(loss, "loss");
    if (!Double.isFinite(weight)) {
      throw new IllegalArgumentException("the weight of loss " + loss.name() + " is " + weight + ": must be finite");
    }
  }
}
