package dev.grpo4j.torch;

import dev.grpo4j.GroupStep;
import dev.grpo4j.LossResult;
import dev.grpo4j.LossStatistics;
import dev.grpo4j.platform.LibTorch;
import java.util.Objects;
import java.util.function.Function;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;

/**
 * The preference objective of a micro-batch of {@link EncodedPairs} under a {@link CausalLm}, on one of two routes
 * chosen once: the <b>whole logits</b> (the model's {@code [2B, T, V]} logits through {@link TorchPreferenceLoss},
 * the gradient written over them and backpropagated) or the <b>fused head</b> (the hidden states through
 * {@link FusedLmHead}; the logits never exist whole). Both take the share {@code scale} of the step's gradient this
 * micro-batch contributes inside their coefficients, and both leave the group step to the caller, so that gradient
 * accumulation and data-parallel ranks can share one.
 *
 * <p>Each call runs in its own {@code PointerScope}: the native memory of its tensors is freed when it ends rather
 * than when the garbage collector gets to it.
 */
@SuppressWarnings("try") // PointerScope and NoGradGuard act by existing; the bodies never name them
public final class PreferenceObjective {
  static {
    LibTorch.load();
  }

  private final TorchPreferenceLoss loss;
  private final FusedLmHead fusedHead;

  private PreferenceObjective(TorchPreferenceLoss loss, FusedLmHead fusedHead) {
    this.loss = Objects.requireNonNull(loss, "loss");
    this.fusedHead = fusedHead;
  }

  /** Through {@code fusedHead}, or the whole logits when it is null. */
  public static PreferenceObjective of(TorchPreferenceLoss loss, FusedLmHead fusedHead) {
    return new PreferenceObjective(loss, fusedHead);
  }

  /** The loss and its group-weight state. */
  public TorchPreferenceLoss loss() {
    return loss;
  }

  /** Whether the route is the fused head. */
  public boolean fused() {
    return fusedHead != null;
  }

  /**
   * The objective on {@code pairs} of {@code data} (which must carry reference log-probs) with the group step
   * {@code groupStep} chooses (e.g. {@code s -> loss.groupStep(s.groupStatistics(), true)}), and the gradient of
   * {@code scale * J} added to the model's parameters' gradients.
   */
  public LossResult accumulate(CausalLm model, EncodedPairs data, int[] pairs, double scale,
                               Function<LossStatistics, GroupStep> groupStep) {
    requireHead(model);
    try (PointerScope scope = new PointerScope()) {
      if (fusedHead != null) {
        // The fused head takes the reference log-probs and group ids as arrays: they never become tensors.
        Tensor hidden = model.hiddenStates(data.inputIds(pairs));
        return fusedHead.forwardBackward(loss.loss(), hidden, model.head(), data.labels(pairs),
            data.referenceLogps(pairs), data.groups(pairs), scale, groupStep);
      }
      EncodedPairs.Batch batch = data.batch(pairs);
      Tensor logits = model.forward(batch.inputIds());
      Tensor grad = logits.detach();
      LossResult result = loss.forwardBackward(logits, batch.labels(), batch.refLogps(), batch.groupIds(), grad,
          scale, groupStep);
      logits.backward(grad, new BoolOptional(), false, new TensorArrayRefOptional());
      return result;
    }
  }

  /** The objective's outputs on {@code pairs} from the current group weights: no gradient, no weight update. */
  public LossResult evaluate(CausalLm model, EncodedPairs data, int[] pairs) {
    requireHead(model);
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      if (fusedHead != null) {
        return fusedHead.evaluate(loss.loss(), model.hiddenStates(data.inputIds(pairs)), model.head(),
            data.labels(pairs), data.referenceLogps(pairs), data.groups(pairs));
      }
      EncodedPairs.Batch batch = data.batch(pairs);
      return loss.evaluate(model.forward(batch.inputIds()), batch.labels(), batch.refLogps(), batch.groupIds());
    }
  }

  /**
   * Per-pair results of {@code model} over the pairs {@code [from, to)} of {@code data}, evaluated in chunks of
   * {@code chunkPairs} pairs from {@code from}.
   */
  public PairResults evaluatePairs(CausalLm model, EncodedPairs data, int from, int to, int chunkPairs) {
    int n = to - from;
    PairResults out = new PairResults(new float[n], new float[n], new float[n], new float[n], new float[n],
        new float[n], new int[n]);
    for (int start = from; start < to; start += chunkPairs) {
      int end = Math.min(to, start + chunkPairs);
      int[] pairs = new int[end - start];
      for (int i = 0; i < pairs.length; i++) {
        pairs[i] = start + i;
        out.groups()[start - from + i] = data.group(start + i);
      }
      LossResult r = evaluate(model, data, pairs);
      int at = start - from;
      System.arraycopy(r.pairLosses(), 0, out.pairLosses(), at, pairs.length);
      System.arraycopy(r.margins(), 0, out.margins(), at, pairs.length);
      System.arraycopy(r.chosenRewards(), 0, out.chosenRewards(), at, pairs.length);
      System.arraycopy(r.rejectedRewards(), 0, out.rejectedRewards(), at, pairs.length);
      System.arraycopy(r.chosenLogps(), 0, out.chosenLogps(), at, pairs.length);
      System.arraycopy(r.rejectedLogps(), 0, out.rejectedLogps(), at, pairs.length);
    }
    return out;
  }

  private void requireHead(CausalLm model) {
    if (fusedHead != null && model.head() == null) {
      throw new IllegalArgumentException("the model has no separable LM head: use the whole-logits route "
          + "(PreferenceObjective.of(loss, null))");
    }
  }

  /**
   * Per-pair results of an evaluation, one element per pair.
   *
   * @param pairLosses loss of each pair
   * @param margins {@code h = (s_w - ref_w) - (s_l - ref_l)} of each pair
   * @param chosenRewards {@code beta (s_w - ref_w)} of each pair
   * @param rejectedRewards {@code beta (s_l - ref_l)} of each pair
   * @param chosenLogps policy log-prob of each chosen response
   * @param rejectedLogps policy log-prob of each rejected response
   * @param groups group of each pair
   */
  public record PairResults(float[] pairLosses, float[] margins, float[] chosenRewards, float[] rejectedRewards,
                            float[] chosenLogps, float[] rejectedLogps, int[] groups) {}
}
