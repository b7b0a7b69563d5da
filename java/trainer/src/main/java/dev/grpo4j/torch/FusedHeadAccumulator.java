package dev.grpo4j.torch;

import dev.grpo4j.platform.LibTorch;
import java.util.List;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A parameter's gradient as the chunks add to it. A float32 parameter without a gradient yet gets the sum as its
 * gradient directly. Otherwise the sum is kept apart, in float32 (bf16 and f16 rounding would add up over the
 * chunks), and reaches the parameter through the one backward, as a gradient root on a view of it: autograd then
 * adds it to the parameter's other gradients of this backward (a tied embedding's) and the sum of those to the
 * earlier gradient, exactly as it would without the fused head. Summing into the earlier gradient instead would let
 * the GEMM add its K panels into it one by one and round otherwise, and gradient accumulation in one process would
 * no longer equal data-parallel ranks bit for bit.
 */
final class FusedHeadAccumulator {
  static {
    LibTorch.load();
  }

  private final Tensor parameter;
  private final Tensor sum;
  private final boolean isGrad;

  private FusedHeadAccumulator(Tensor parameter, Tensor sum, boolean isGrad) {
    this.parameter = parameter;
    this.sum = sum;
    this.isGrad = isGrad;
  }

  static FusedHeadAccumulator of(Tensor parameter) {
    if (!parameter.requires_grad()) {
      return null;
    }
    if (parameter.scalar_type().intern() == ScalarType.Float && !parameter.grad().defined()) {
      parameter.mutable_grad().put(torch.zeros_like(parameter));
      return new FusedHeadAccumulator(parameter, parameter.grad(), true);
    }
    return apart(parameter);
  }

  /** A sum kept apart from the parameter's gradient whatever its dtype and gradient: an extra accumulator slot. */
  static FusedHeadAccumulator apart(Tensor parameter) {
    return new FusedHeadAccumulator(parameter, torch.zeros(parameter.sizes(),
        new TensorOptions(ScalarType.Float).device(new DeviceOptional(parameter.device()))), false);
  }

  void scale(double factor) {
    sum.mul_(new Scalar(factor));
  }

  /** Adds {@code factor} times another slot's sum. */
  void addScaled(FusedHeadAccumulator other, double factor) {
    sum.add_(other.sum, new Scalar(factor));
  }

  void addProduct(Tensor left, Tensor right, double alpha) {
    boolean cast = sum.scalar_type().intern() != left.scalar_type().intern();
    sum.addmm_(cast ? left.to(ScalarType.Float) : left, cast ? right.to(ScalarType.Float) : right,
        new Scalar(1.0), new Scalar(alpha));
  }

  void addSum(Tensor g) {
    sum.add_(g.to(sum.scalar_type().intern()).sum(new long[] {0}));
  }

  /** Adds the kept-apart sum as a backward root (a view of the parameter) and its gradient. */
  void addRoot(List<Tensor> roots, List<Tensor> grads) {
    if (isGrad) {
      return;
    }
    roots.add(parameter.view_as(parameter));
    grads.add(sum.to(parameter.scalar_type().intern()));
  }

  /** Bytes of one float32 slot for {@code head}: its parameters that take a gradient. */
  static long slotBytes(LmHead head) {
    long bytes = 0;
    for (Tensor t : new Tensor[] {head.weight(), head.bias(), head.hasAdapter() ? head.loraB() : null}) {
      if (t != null && t.requires_grad()) {
        bytes += 4 * t.numel();
      }
    }
    return bytes;
  }
}
