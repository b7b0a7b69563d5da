package dev.grpo4j.train;

import java.util.Locale;
import java.util.Optional;

/**
 * Notices a run that has stopped learning: a gradient norm of exactly 0 (or not finite) for {@value #STEPS} steps
 * in a row. After a far too large learning rate, the logits saturate: every log-softmax is pinned at 0 or at the
 * float limit, the loss is flat and every gradient vanishes, yet the run goes on and its metrics look merely
 * unlucky. Says so once.
 */
final class DeadRunWatch {
  static final int STEPS = 5;

  private final double learningRate;
  private int deadSteps;
  private boolean told;

  DeadRunWatch(double learningRate) {
    this.learningRate = learningRate;
  }

  /** Observes one optimiser step's gradient norm; the warning, the first time the run counts as dead. */
  Optional<String> observe(int step, double gradNorm) {
    deadSteps = gradNorm == 0 || !Double.isFinite(gradNorm) ? deadSteps + 1 : 0;
    if (deadSteps < STEPS || told) {
      return Optional.empty();
    }
    told = true;
    return Optional.of(String.format(Locale.ROOT, "warning: step %d: the gradient norm has been %s for %d steps in a "
        + "row, so the run learns nothing: the model's log-probs are saturated, usually after too large a learning "
        + "rate (--lr %s); lower --lr, or check that the chosen and rejected responses differ", step,
        gradNorm == 0 ? "exactly 0" : "not finite", deadSteps, learningRate));
  }
}
