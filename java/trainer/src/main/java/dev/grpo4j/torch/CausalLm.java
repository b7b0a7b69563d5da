package dev.grpo4j.torch;

import dev.grpo4j.platform.TensorVectors;
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
  default void copyWeightsFrom(CausalLm source) {
    TensorVectors.copyValues(parameters(), source.parameters());
  }
}
