package dev.grpo4j.torch;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

/**
 * A causal language model as the preference trainer sees it: token ids in, next-token logits out, and the
 * parameters an optimizer updates. A libtorch {@code Module} subclass satisfies {@link #parameters()} as is.
 */
public interface CausalLm {
  /** Logits {@code [N, T, V]} (float32, contiguous) for input ids {@code [N, T]} (int64). */
  Tensor forward(Tensor inputIds);

  /**
   * Hidden states {@code [N, T, H]} after the final norm, the input of {@link #head()}, for input ids {@code [N, T]};
   * tracked by autograd like {@link #forward}'s logits. A model that cannot split its output layer off throws.
   */
  default Tensor hiddenStates(Tensor inputIds) {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " does not expose its hidden states: use "
        + "forward(inputIds), or train without the fused LM head (--fused-head off)");
  }

  /** The output layer that turns {@link #hiddenStates} into {@link #forward}'s logits, or null when there is none. */
  default LmHead head() {
    return null;
  }

  /** The trainable parameters, in a fixed order. */
  TensorVector parameters();

  /**
   * Copies {@code source}'s parameter values into this model's (same architecture), e.g. to start several runs
   * from the same weights.
   */
  @SuppressWarnings("try") // the guard acts by existing; the body never names it
  default void copyWeightsFrom(CausalLm source) {
    Tensor[] to = TensorVectors.owned(parameters());
    Tensor[] from = TensorVectors.owned(source.parameters());
    if (to.length != from.length) {
      throw new IllegalArgumentException("source has " + from.length + " parameter tensors, this model "
          + to.length + ": the architectures differ");
    }
    // Parameters are autograd leaves; writing them in place is only allowed with gradient recording off.
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (int i = 0; i < to.length; i++) {
        to[i].copy_(from[i]);
      }
    }
  }
}
