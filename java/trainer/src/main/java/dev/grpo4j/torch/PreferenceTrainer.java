package dev.grpo4j.torch;

import dev.grpo4j.GroupStep;
import dev.grpo4j.LossResult;
import dev.grpo4j.LossStatistics;
import dev.grpo4j.platform.LibTorch;
import java.util.Objects;
import java.util.function.Function;
import org.bytedeco.pytorch.Optimizer;

/**
 * Preference optimisation of a {@link CausalLm} with the fused loss: per step the {@link PreferenceObjective} on a
 * micro-batch (objective, group-weight update, gradient into the parameters) and an optimizer step. The method
 * (DPO, IPO, their group-robust and importance-sampled forms) is the loss's configuration; this class is the same
 * for all of them.
 *
 * <p>On the whole-logits route the loss gradient is written over the logits (no second {@code [2B, T, V]} buffer).
 * That is sound when autograd did not save the logits for the model's own backward, as with a linear LM head; a
 * model that transforms its logits after the head (e.g. soft-capping) makes libtorch's backward fail with an
 * in-place modification error rather than compute a wrong gradient.
 */
public final class PreferenceTrainer {
  static {
    LibTorch.load();
  }

  private final CausalLm model;
  private final Optimizer optimizer;
  private final PreferenceObjective objective;

  /**
   * @param model the policy, trained in place
   * @param optimizer an optimizer over the model's parameters
   * @param loss the preference loss; its group-weight state advances with every {@link #step}
   * @param fusedHead the route: the loss from the model's hidden states and head ({@link CausalLm#hiddenStates},
   *     {@link CausalLm#head}) through this head, the logits never whole; null: the model's whole logits
   */
  public PreferenceTrainer(CausalLm model, Optimizer optimizer, TorchPreferenceLoss loss, FusedLmHead fusedHead) {
    this.model = Objects.requireNonNull(model, "model");
    this.optimizer = Objects.requireNonNull(optimizer, "optimizer");
    if (fusedHead != null && model.head() == null) {
      throw new IllegalArgumentException("the model has no separable LM head: train it without the fused head");
    }
    this.objective = PreferenceObjective.of(loss, fusedHead);
  }

  /** One optimisation step on the given pairs of {@code data} (which must carry reference log-probs). */
  public LossResult step(EncodedPairs data, int[] pairs) {
    optimizer.zero_grad();
    LossResult r = accumulate(data, pairs, 1.0,
        statistics -> objective.loss().loss().groupStep(statistics.groupStatistics(), true));
    optimizer.step();
    return r;
  }

  /**
   * The forward and backward half of a step: the objective on {@code pairs} with the group step {@code groupStep}
   * chooses (see {@link PreferenceObjective#accumulate}) and backpropagation of {@code scale * J}, added to the
   * parameters' gradients. Gradient accumulation calls it once per micro-batch with {@code scale = 1 / micro-batches}
   * and then steps the optimizer itself.
   */
  public LossResult accumulate(EncodedPairs data, int[] pairs, double scale,
                               Function<LossStatistics, GroupStep> groupStep) {
    return objective.accumulate(model, data, pairs, scale, groupStep);
  }

  /**
   * Per-pair results of the current policy over the pairs {@code [from, to)} of {@code data}, in chunks of
   * {@code chunkPairs} pairs from {@code from}; no gradient, no group-weight update.
   */
  public PreferenceObjective.PairResults evaluatePairs(EncodedPairs data, int from, int to, int chunkPairs) {
    return objective.evaluatePairs(model, data, from, to, chunkPairs);
  }
}
