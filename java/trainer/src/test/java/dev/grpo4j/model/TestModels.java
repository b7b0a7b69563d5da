package dev.grpo4j.model;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** Shared set-up for tests that use LoRA models. */
public final class TestModels {
  private TestModels() {}

  /**
   * Overwrites every adapter matrix with {@code N(0, std)} draws from libtorch's generator: freshly attached
   * adapters have B = 0 and change nothing, which would let a broken save, load or merge pass unnoticed.
   */
  @SuppressWarnings("try") // the guard acts by existing
  public static void randomizeAdapters(TransformerLm model, double std) {
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (Tensor t : LoraAdapters.peftNamedAdapters(model).values()) {
        t.copy_(torch.randn(t.sizes().vec().get()).mul(new Scalar(std)));
      }
    }
  }
}
