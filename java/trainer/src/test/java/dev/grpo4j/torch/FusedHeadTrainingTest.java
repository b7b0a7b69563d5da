package dev.grpo4j.torch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LossResult;
import dev.grpo4j.model.LoraAdapters;
import dev.grpo4j.model.LoraConfig;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Models;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.platform.TensorVectors;
import dev.grpo4j.testing.Close;
import dev.grpo4j.testing.LossConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Ten AdamW steps of a built-in tiny transformer trained twice from the same weights on the same batches, through
 * {@link PreferenceTrainer}: once with the fused LM head (chunks of 7 positions, so that every batch spans several),
 * once with the whole logits. Untied (Llama) and tied (Qwen2) heads, and LoRA on the attention and the head with
 * dropout. Per step the objective, group losses and weights agree, and the trained parameters end together.
 */
class FusedHeadTrainingTest {
  private static final int STEPS = 10;
  private static final double LEARNING_RATE = 1e-3;

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (LossConfig c : List.of(FusedVersusLibtorchTrainingTest.configs().get(0),
        FusedVersusLibtorchTrainingTest.configs().get(2))) {
      out.add(Arguments.of(c, "tiny-llama", false));
      out.add(Arguments.of(c, "tiny-qwen2", false));
      out.add(Arguments.of(c, "tiny-llama", true));
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} | {1} | LoRA {2}")
  @MethodSource("cases")
  void fusedHeadTrainsLikeTheWholeLogits(LossConfig c, String modelName, boolean lora) {
    long[] groupSizes = {14, 4, 8};
    ModelConfig config = ModelConfig.tiny(modelName, 257);
    TransformerLm fusedModel = model(config, lora);
    TransformerLm wholeModel = model(config, lora);
    double[] initial = parameters(wholeModel);
    try (GroupRobustLoss fusedLoss = c.build(groupSizes); GroupRobustLoss wholeLoss = c.build(groupSizes)) {
      EncodedPairs data = FusedVersusLibtorchTrainingTest.scored(wholeModel,
          FusedVersusLibtorchTrainingTest.randomTokenPairs(new Random(7)));
      Twins twins = Twins.of(fusedModel, fusedLoss, wholeModel, wholeLoss, LEARNING_RATE);
      PreferenceTrainer fused = twins.fused();
      PreferenceTrainer whole = twins.whole();
      Random batches = new Random(13);
      for (int step = 0; step < STEPS; step++) {
        int[] pairs = FusedVersusLibtorchTrainingTest.sample(batches, data.size());
        // Both models draw their dropout masks from libtorch's one generator: give each step the same draws.
        org.bytedeco.pytorch.global.torch.manual_seed(100 + step);
        LossResult a = fused.step(data, pairs);
        org.bytedeco.pytorch.global.torch.manual_seed(100 + step);
        LossResult b = whole.step(data, pairs);
        String name = c + " | " + modelName + (lora ? " LoRA" : "") + " | step " + step;
        Close.assertClose(name + " J", new double[] {a.loss()}, new double[] {b.loss()}, 1e-5, 1e-4);
        Close.assertClose(name + " group losses", a.groupLosses(), Close.widen(b.groupLosses()), 1e-5, 1e-4);
        Close.assertClose(name + " weights", a.objectiveWeights(), Close.widen(b.objectiveWeights()), 1e-5, 1e-4);
        Close.assertClose(name + " log alpha", fusedLoss.state().logAlpha(), wholeLoss.state().logAlpha(), 1e-5,
            1e-4);
      }
      double[] fusedParameters = parameters(fusedModel);
      double[] wholeParameters = parameters(wholeModel);
      double travelled = FusedVersusLibtorchTrainingTest.distance(wholeParameters, initial);
      double disagreement = FusedVersusLibtorchTrainingTest.distance(fusedParameters, wholeParameters);
      assertTrue(travelled > 0, "training moved nothing");
      assertTrue(disagreement <= 1e-4 * travelled, c + " " + modelName + ": the trained models differ by "
          + disagreement + " after moving " + travelled);
      Close.assertClose(c + " trained parameters", fusedParameters, wholeParameters, LEARNING_RATE / 10, 1e-4);
    }
  }

  private static TransformerLm model(ModelConfig config, boolean lora) {
    TransformerLm model = Models.random(config, 42);
    if (lora) {
      LoraAdapters.attach(model, new LoraConfig(4, 8, 0.1, List.of("q_proj", "v_proj", "lm_head"), null), 5);
    }
    return model;
  }

  static double[] parameters(TransformerLm model) {
    List<Double> values = new ArrayList<>();
    for (Tensor t : TensorVectors.owned(model.parameters())) {
      for (double v : Tensors.toDoubles(t)) {
        values.add(v);
      }
    }
    double[] out = new double[values.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = values.get(i);
    }
    return out;
  }
}
