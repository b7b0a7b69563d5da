package dev.grpo4j.model;

import dev.grpo4j.platform.LibTorch;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Creates {@link TransformerLm}s. They are made here and not by static methods of their own class because that
 * class extends libtorch's {@code Module}: initialising it initialises {@code Module} first, which loads libtorch
 * the plain JavaCPP way before any guard of {@code TransformerLm}'s could run, and that way can mix a system
 * libtorch into the process (see {@link LibTorch}). This class loads libtorch properly first.
 */
public final class Models {
  static {
    LibTorch.load();
  }

  private Models() {}

  /**
   * A randomly initialised model in float32 on the CPU, initialised as transformers does (weights
   * {@code N(0, 0.02)} or the config's {@code initializer_range}, biases 0, norms 1) from libtorch's generator seeded
   * with {@code seed}: the same seed gives the same weights.
   */
  public static TransformerLm random(ModelConfig config, long seed) {
    torch.manual_seed(seed);
    double std = config.json().path("initializer_range").asDouble(0.02);
    return new TransformerLm(config, ParameterFactory.random(ScalarType.Float, std));
  }

  /** A model whose parameters hold no values yet, in {@code dtype} on the CPU; for loading a checkpoint into. */
  public static TransformerLm uninitialised(ModelConfig config, ScalarType dtype) {
    return new TransformerLm(config, ParameterFactory.uninitialised(dtype));
  }
}
