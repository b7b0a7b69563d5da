package dev.grpo4j.torch;

import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.platform.LibTorch;
import dev.grpo4j.testing.RandomPreferences;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** A {@link RandomPreferences} batch (the core tests' harness, shared) as CPU tensors. */
final class PreferenceTensors {
  static {
    LibTorch.load();
  }

  private PreferenceTensors() {}

  /** Logits as a fresh leaf tensor of {@code type} that requires grad (values rounded to the type first). */
  static Tensor logitsLeaf(RandomPreferences batch, ScalarType type) {
    return HostTensors.floats(batch.logits(), 2L * batch.pairs(), batch.seqLen(), batch.vocab()).to(type)
        .requires_grad_(true);
  }

  /** Labels as int64, or int32 when {@code int32}. */
  static Tensor labels(RandomPreferences batch, boolean int32) {
    Tensor t = HostTensors.longs(batch.labels(), 2L * batch.pairs(), batch.seqLen());
    return int32 ? t.to(ScalarType.Int) : t;
  }

  static Tensor ref(RandomPreferences batch) {
    return HostTensors.floats(batch.ref(), 2L * batch.pairs());
  }

  static Tensor groupIds(RandomPreferences batch) {
    return HostTensors.ints(batch.groupIds(), batch.pairs());
  }
}
