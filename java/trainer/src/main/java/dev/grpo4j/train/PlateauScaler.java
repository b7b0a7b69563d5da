package dev.grpo4j.train;

/**
 * Reduce-on-plateau for a watched value that should fall (the worst-group validation loss, as in the paper): after
 * more than {@code patience} evaluations without a relative improvement of {@code threshold} over the best value so
 * far, the learning-rate scale is multiplied by {@code factor}, never below {@code minScale}. A NaN value counts as
 * no improvement. Mutable; {@link #state} and {@link #restore} carry it through checkpoints.
 */
public final class PlateauScaler {
  /**
   * What a checkpoint keeps.
   *
   * @param best lowest value seen (infinite before the first)
   * @param badEvaluations evaluations since the last improvement or reduction
   * @param scale current factor on the learning rate
   * @param reductions how often the scale was reduced
   */
  public record State(double best, int badEvaluations, double scale, int reductions) {}

  private final int patience;
  private final double factor;
  private final double threshold;
  private final double minScale;
  private State state = new State(Double.POSITIVE_INFINITY, 0, 1.0, 0);

  /**
   * @param patience evaluations without improvement that are tolerated ({@code >= 0})
   * @param factor multiplier on a plateau, in (0, 1)
   * @param threshold relative improvement that counts, {@code >= 0} (PyTorch's default 1e-4)
   * @param minScale floor of the scale, in (0, 1]
   */
  public PlateauScaler(int patience, double factor, double threshold, double minScale) {
    if (patience < 0) {
      throw new IllegalArgumentException("plateau patience = " + patience + ": must be >= 0");
    }
    if (!(factor > 0 && factor < 1)) {
      throw new IllegalArgumentException("plateau factor = " + factor + ": must be in (0, 1)");
    }
    if (!(threshold >= 0)) {
      throw new IllegalArgumentException("plateau threshold = " + threshold + ": must be >= 0");
    }
    if (!(minScale > 0 && minScale <= 1)) {
      throw new IllegalArgumentException("plateau minimum scale = " + minScale + ": must be in (0, 1] (the minimum "
          + "learning rate divided by the peak one)");
    }
    this.patience = patience;
    this.factor = factor;
    this.threshold = threshold;
    this.minScale = minScale;
  }

  /** Records one evaluation; returns whether the scale was reduced. */
  public boolean observe(double value) {
    State s = state;
    if (value < s.best() * (1 - threshold) || (Double.isInfinite(s.best()) && !Double.isNaN(value))) {
      state = new State(value, 0, s.scale(), s.reductions());
      return false;
    }
    int bad = s.badEvaluations() + 1;
    if (bad > patience && s.scale() > minScale) {
      state = new State(s.best(), 0, Math.max(minScale, s.scale() * factor), s.reductions() + 1);
      return true;
    }
    state = new State(s.best(), bad, s.scale(), s.reductions());
    return false;
  }

  /** The factor on the scheduled learning rate. */
  public double scale() {
    return state.scale();
  }

  public State state() {
    return state;
  }

  public void restore(State saved) {
    state = saved;
  }
}
