package dev.grpo4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;

import dev.grpo4j.platform.HostTensors;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Regression: libtorch's recursive {@code train} and {@code eval} reach every registered submodule through its Java
 * peer, so the peers of {@link TransformerLm}'s plain container modules must live as long as the model. When only
 * libtorch held them, a garbage collection made {@code Module.eval} throw a NullPointerException.
 */
@SuppressWarnings("try") // PointerScope acts by existing
class TransformerLmLifetimeTest {
  @Test
  void trainEvalAndForwardWorkAfterGarbageCollection() throws InterruptedException {
    TransformerLm model = build();
    collectGarbage();
    assertDoesNotThrow(() -> model.train(true));
    assertDoesNotThrow(model::eval);
    try (PointerScope scope = new PointerScope()) {
      Tensor logits = model.forward(HostTensors.longs(new long[] {1, 2, 3, 4, 5, 6}, 2, 3));
      assertArrayEquals(new long[] {2, 3, 257}, logits.sizes().vec().get());
    }
  }

  /** Built in its own frame so that no local of the test refers to anything but the model. */
  private static TransformerLm build() {
    return Models.random(ModelConfig.tiny("tiny-llama", 257), 7);
  }

  /**
   * Runs the collector until a canary object is known to be collected, with garbage in between, and gives
   * JavaCPP's deallocator time to release what was collected.
   */
  private static void collectGarbage() throws InterruptedException {
    WeakReference<Object> canary = new WeakReference<>(new Object());
    List<byte[]> garbage = new ArrayList<>();
    for (int round = 0; round < 20 && canary.get() != null; round++) {
      for (int i = 0; i < 64; i++) {
        garbage.add(new byte[16 * 1024]);
      }
      garbage.clear();
      System.gc();
      Thread.sleep(10);
    }
    for (int round = 0; round < 3; round++) {
      System.gc();
      Thread.sleep(20);
    }
  }
}
