package dev.grpo4j.model;

import dev.grpo4j.platform.LibTorch;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Creates a model's parameter tensors on the CPU: initialised as transformers initialises Llama (matrices
 * {@code N(0, std)}, biases 0, norm weights 1) from libtorch's global generator, or left uninitialised when the
 * values are about to be loaded from a checkpoint (no time spent filling gigabytes that are overwritten).
 */
final class ParameterFactory {
  static {
    LibTorch.load();
  }

  private final ScalarType dtype;
  private final double std;
  private final boolean initialise;

  private ParameterFactory(ScalarType dtype, double std, boolean initialise) {
    this.dtype = dtype;
    this.std = std;
    this.initialise = initialise;
  }

  static ParameterFactory random(ScalarType dtype, double std) {
    return new ParameterFactory(dtype, std, true);
  }

  static ParameterFactory uninitialised(ScalarType dtype) {
    return new ParameterFactory(dtype, 0, false);
  }

  Tensor normal(long... shape) {
    if (!initialise) {
      return empty(shape);
    }
    // Drawn in float32 so a seed gives the same values whatever the model's dtype.
    return torch.randn(shape, new TensorOptions(ScalarType.Float)).mul_(new Scalar(std)).to(dtype);
  }

  Tensor zeros(long... shape) {
    return initialise ? empty(shape).zero_() : empty(shape);
  }

  Tensor ones(long... shape) {
    return initialise ? empty(shape).fill_(new Scalar(1.0)) : empty(shape);
  }

  private Tensor empty(long... shape) {
    return torch.empty(shape, new TensorOptions(dtype), new MemoryFormatOptional());
  }
}
