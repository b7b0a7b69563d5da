package dev.grpo4j.platform;

import java.lang.ref.Reference;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

/**
 * Owned tensors out of a bytedeco {@link TensorVector}.
 *
 * <p>{@code TensorVector.get(i)} returns a view of the element slot inside the native vector, not a tensor of
 * its own: once the vector is freed (by the garbage collector, or by a {@code PointerScope} closing) that view
 * points at freed memory, and using it corrupts the native heap. {@code module.parameters().get()} and
 * {@code tensor.chunk(n).get(i)} are the common ways to hit this. The tensors returned here each hold their own
 * reference to the underlying storage and outlive the vector.
 */
@SuppressWarnings("try") // NoGradGuard acts by existing; the body never names it
public final class TensorVectors {
  static {
    LibTorch.load();
  }

  private TensorVectors() {}

  /** Every element of {@code vector} as a tensor that owns a reference of its own. */
  public static Tensor[] owned(TensorVector vector) {
    Tensor[] out = new Tensor[(int) vector.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = new Tensor(vector.get(i));
    }
    // The loop's last get(i) leaves the vector unreachable before its copy is made.
    Reference.reachabilityFence(vector);
    return out;
  }

  /** Copies the values of {@code from}'s tensors into {@code to}'s (same count and shapes), outside autograd. */
  public static void copyValues(TensorVector to, TensorVector from) {
    Tensor[] target = owned(to);
    Tensor[] source = owned(from);
    if (target.length != source.length) {
      throw new IllegalArgumentException("source has " + source.length + " parameter tensors, this model "
          + target.length + ": the architectures differ");
    }
    // Parameters are autograd leaves; writing them in place is only allowed with gradient recording off.
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (int i = 0; i < target.length; i++) {
        target[i].copy_(source[i]);
      }
    }
  }
}
