package dev.grpo4j.torch;

import dev.grpo4j.platform.LibTorch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The supervised fine-tuning objective, the usual stage before preference optimisation: the mean next-token
 * cross-entropy over the response positions of the chosen rows, on the whole logits or through a
 * {@link FusedLmHead} (the route chosen once, as for {@link PreferenceObjective}).
 */
@SuppressWarnings("try") // PointerScope acts by existing; the bodies never name it
public final class SupervisedObjective {
  static {
    LibTorch.load();
  }

  private final FusedLmHead fusedHead;

  private SupervisedObjective(FusedLmHead fusedHead) {
    this.fusedHead = fusedHead;
  }

  /** Through {@code fusedHead} ({@link FusedLmHead#crossEntropy}), or the whole logits when it is null. */
  public static SupervisedObjective of(FusedLmHead fusedHead) {
    return new SupervisedObjective(fusedHead);
  }

  /**
   * Adds {@code scale} times the gradient of the mean next-token cross-entropy over the response positions of
   * {@code pairs}' chosen rows to the parameters' gradients, as one micro-batch of a supervised step. To make a step
   * of several micro-batches (or ranks) the mean over all their positions, give each the scale
   * {@code positions / totalPositions} ({@link EncodedPairs#chosenPositions}).
   *
   * @return the micro-batch's own mean; NaN, and no gradient, when it has no response position
   */
  public double accumulate(CausalLm model, EncodedPairs data, int[] pairs, double scale) {
    if (data.chosenPositions(pairs) == 0) {
      return Double.NaN;
    }
    try (PointerScope scope = new PointerScope()) {
      if (fusedHead != null) {
        return fusedHead.crossEntropy(model.hiddenStates(data.chosenInputIds(pairs)), model.head(),
            data.chosenLabels(pairs), scale);
      }
      Tensor logits = model.forward(data.chosenInputIds(pairs));
      Tensor labels = data.chosenLabels(pairs);
      // cross_entropy skips label -100 (its default ignore_index), the same mask the preference loss uses.
      Tensor nll = torch.cross_entropy(logits.view(-1, logits.size(2)), labels.view(-1));
      (scale == 1.0 ? nll : nll.mul(new Scalar(scale))).backward();
      return nll.item_float();
    }
  }
}
