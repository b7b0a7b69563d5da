package dev.grpo4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Models;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.platform.HostTensors;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Loop#adamW}: weight decay spares biases and norm weights as transformers' {@code Trainer} does. The
 * parameters it spares are those of {@code Trainer.get_decay_parameter_names} (transformers 5.18) on the same
 * architectures: every layer's {@code input_layernorm} and {@code post_attention_layernorm} weights,
 * {@code model.norm}, and Qwen2's q/k/v biases.
 */
class LoopOptimizerTest {
  private static final double LR = 0.1;
  private static final double DECAY = 0.5;

  @ParameterizedTest
  @ValueSource(strings = {"tiny-llama", "tiny-qwen2"})
  void biasesAndNormWeightsAreSparedAsTransformersSparesThem(String architecture) {
    TransformerLm model = Models.random(ModelConfig.tiny(architecture, 257), 3);
    Set<String> expected = new TreeSet<>();
    for (String name : model.allParameters().keySet()) {
      if (name.endsWith("_layernorm.weight") || name.equals("model.norm.weight") || name.endsWith("_proj.bias")) {
        expected.add(name);
      }
    }
    Set<String> spared = new TreeSet<>();
    model.allParameters().keySet().stream().filter(Loop::exemptFromDecay).forEach(spared::add);
    assertEquals(expected, spared);
    assertTrue(spared.stream().anyMatch(n -> n.endsWith(".bias")) == architecture.equals("tiny-qwen2"), spared
        .toString());

    // With zero gradients AdamW's step is its decoupled decay alone: p <- p (1 - lr wd), or p where spared.
    Map<String, float[]> before = new LinkedHashMap<>();
    model.allParameters().forEach((name, p) -> {
      before.put(name, HostTensors.toFloats(p.detach().clone()));
      p.mutable_grad().put(torch.zeros_like(p));
    });
    AdamW optimizer = Loop.adamW(model, LR, new OptimizerSpec(LR, DECAY, 0, LearningRateSchedule.Decay.CONSTANT, -1,
        0.5, 0, 1.0, true));
    assertEquals(spared.isEmpty() ? 1 : 2, optimizer.param_groups().size());
    optimizer.step();
    for (Map.Entry<String, Tensor> e : model.allParameters().entrySet()) {
      float[] was = before.get(e.getKey());
      float[] now = HostTensors.toFloats(e.getValue().detach());
      double factor = spared.contains(e.getKey()) ? 1 : 1 - LR * DECAY;
      for (int i = 0; i < was.length; i++) {
        assertEquals(was[i] * factor, now[i], 1e-6 * Math.abs(was[i]) + 1e-12, e.getKey() + "[" + i + "]");
      }
    }
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void oneGroupWithoutDecayOrWhenEveryParameterDecays(boolean exempt) {
    TransformerLm model = Models.random(ModelConfig.tiny("tiny-qwen2", 257), 3);
    for (double decay : List.of(0.0, DECAY)) {
      AdamW optimizer = Loop.adamW(model, LR, new OptimizerSpec(LR, decay, 0, LearningRateSchedule.Decay.CONSTANT,
          -1, 0.5, 0, 1.0, exempt));
      assertEquals(exempt && decay > 0 ? 2 : 1, optimizer.param_groups().size(), "decay " + decay);
    }
  }
}
