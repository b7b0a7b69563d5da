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

  /** The trainable parameters, in a fixed order. */
  TensorVector parameters();

  /**
   * Copies {@code source}'s parameter values into this model's (same architecture), e.g. to start several runs
   * from the same weights.
   */
  @SuppressWarnings("try") // the guard acts by existing; the body never names it
  default void copyWeightsFrom(CausalLm source) {
    TensorVector to = parameters();
    TensorVector from = source.parameters();
    if (to.size() != from.size()) {
      throw new IllegalArgumentException("source has " + from.size() + " parameter tensors, this model "
          + to.size() + ": the architectures differ");
    }
    // Parameters are autograd leaves; writing them in place is only allowed with gradient recording off.
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (long i = 0; i < to.size(); i++) {
        to.get(i).copy_(from.get(i));
      }
    }
  }
}
