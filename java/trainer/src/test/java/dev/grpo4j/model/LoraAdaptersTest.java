package dev.grpo4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.testing.Close;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

@SuppressWarnings("try") // PointerScope and NoGradGuard act by existing
class LoraAdaptersTest {
  private static final LoraConfig LORA = new LoraConfig(4, 8, 0, List.of("q_proj", "v_proj", "down_proj"), "tiny");

  static Tensor inputs() {
    long[] ids = new long[3 * 7];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = (i * 37L + 11) % 257;
    }
    return HostTensors.longs(ids, 3, 7);
  }

  @Test
  void freshAdaptersLeaveOutputsUnchangedAndOnlyAdaptersTrain() {
    try (PointerScope scope = new PointerScope()) {
      TransformerLm model = Models.random(ModelConfig.tiny("tiny-llama", 257), 5);
      double[] before = HostTensors.toDoubles(model.forward(inputs()));
      int adapted = LoraAdapters.attach(model, LORA, 9);
      assertEquals(2 * 3, adapted, "three module kinds in two layers");
      assertArrayEquals(before, HostTensors.toDoubles(model.forward(inputs())), "B = 0 at start");

      assertEquals(2 * adapted, model.parameters().size(), "only A and B of each adapted layer are trainable");
      model.forward(inputs()).pow(new Scalar(2.0)).mean().backward();
      for (Map.Entry<String, Tensor> e : model.allParameters().entrySet()) {
        boolean adapter = e.getKey().contains(".lora_");
        assertEquals(adapter, e.getValue().grad().defined(), e.getKey() + " has a gradient");
      }
    }
  }

  @Test
  void mergedModelEqualsAdaptedModelAndSwitchingOffGivesTheBase() {
    try (PointerScope scope = new PointerScope()) {
      TransformerLm model = Models.random(ModelConfig.tiny("tiny-qwen2", 257), 6);
      double[] base = HostTensors.toDoubles(model.forward(inputs()));
      LoraAdapters.attach(model, LORA, 10);
      TestModels.randomizeAdapters(model, 0.05);
      double[] adapted = HostTensors.toDoubles(model.forward(inputs()));
      assertTrue(Close.maxAbs(diff(adapted, base)) > 1e-3, "random B changes the outputs");

      model.setAdaptersEnabled(false);
      assertArrayEquals(base, HostTensors.toDoubles(model.forward(inputs())), "adapters off = base model");
      model.setAdaptersEnabled(true);

      LoraAdapters.merge(model);
      assertFalse(LoraAdapters.hasAdapters(model));
      Close.assertClose("merged logits", HostTensors.toDoubles(model.forward(inputs())), adapted, 1e-5, 1e-4);
      assertEquals(model.namedParameters().size(), model.parameters().size(), "base trainable again");
    }
  }

  @Test
  void badSettingsNameTheSetting() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new LoraConfig(4, 8, 0, List.of("qkv"), ""));
    assertTrue(e.getMessage().contains("\"qkv\""), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new LoraConfig(0, 8, 0, List.of("q_proj"), ""));
    assertTrue(e.getMessage().contains("rank"), e.getMessage());
    TransformerLm model = Models.random(ModelConfig.tiny("tiny-llama", 257), 5);
    LoraAdapters.attach(model, LORA, 1);
    assertThrows(IllegalStateException.class, () -> LoraAdapters.attach(model, LORA, 1));
  }

  @Test
  void peftConfigRoundTrips() {
    LoraConfig back = LoraConfig.fromJson(LORA.toJson());
    assertEquals(LORA, back);
    var json = LORA.toJson();
    json.put("use_dora", true);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LoraConfig.fromJson(json));
    assertTrue(e.getMessage().contains("use_dora"), e.getMessage());
  }

  private static double[] diff(double[] a, double[] b) {
    double[] out = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i] - b[i];
    }
    return out;
  }
}
