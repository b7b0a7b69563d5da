package dev.grpo4j;

/**
 * The kernel met NaN or infinity where the loss needs finite numbers: logits at a labelled position (in training
 * usually a model that diverged) or reference log-probs. The call changed nothing, the group weights included.
 */
public final class NonFiniteInputException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public NonFiniteInputException(String message) {
    super(message);
  }
}
