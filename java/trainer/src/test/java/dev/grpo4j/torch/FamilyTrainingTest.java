package dev.grpo4j.torch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LossResult;
import dev.grpo4j.model.Checkpoints;
import dev.grpo4j.model.FamilyGoldens;
import dev.grpo4j.model.LoraAdapters;
import dev.grpo4j.model.LoraConfig;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.testing.Close;
import dev.grpo4j.testing.LossConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every model family's tiny checkpoint trained three AdamW steps twice from the same weights on the same batches:
 * through the fused LM head (chunks of 7 positions; its logits multiplier and soft-cap applied per chunk) and through
 * the whole logits (autograd). Full fine-tuning, and LoRA on every linear layer the family has, by its Hugging Face
 * names. Rows of up to 13 tokens pass the sliding windows of 5.
 */
class FamilyTrainingTest {
  private static final int STEPS = 3;
  private static final double LEARNING_RATE = 1e-3;

  static Stream<Arguments> cases() throws Exception {
    List<Arguments> out = new ArrayList<>();
    for (String family : FamilyGoldens.families().toList()) {
      out.add(Arguments.of(family, false));
      out.add(Arguments.of(family, true));
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} | LoRA {1}")
  @MethodSource("cases")
  void fusedHeadTrainsLikeTheWholeLogits(String family, boolean lora) throws Exception {
    Path dir = FamilyGoldens.folder().resolve(family);
    TransformerLm fusedModel = model(dir, lora);
    TransformerLm wholeModel = model(dir, lora);
    double[] initial = FusedHeadTrainingTest.parameters(wholeModel);
    long[] groupSizes = {14, 4, 8};
    LossConfig c = FusedVersusLibtorchTrainingTest.configs().get(0);
    try (GroupRobustLoss fusedLoss = c.build(groupSizes); GroupRobustLoss wholeLoss = c.build(groupSizes)) {
      EncodedPairs data = FusedVersusLibtorchTrainingTest.scored(wholeModel,
          FusedVersusLibtorchTrainingTest.randomTokenPairs(new Random(7), wholeModel.config().vocabSize()));
      Twins twins = Twins.of(fusedModel, fusedLoss, wholeModel, wholeLoss, LEARNING_RATE);
      PreferenceTrainer fused = twins.fused();
      PreferenceTrainer whole = twins.whole();
      Random batches = new Random(13);
      for (int step = 0; step < STEPS; step++) {
        int[] pairs = FusedVersusLibtorchTrainingTest.sample(batches, data.size());
        LossResult a = fused.step(data, pairs);
        LossResult b = whole.step(data, pairs);
        String name = family + (lora ? " LoRA" : "") + " | step " + step;
        Close.assertClose(name + " J", new double[] {a.loss()}, new double[] {b.loss()}, 1e-5, 1e-4);
        Close.assertClose(name + " group losses", a.groupLosses(), Close.widen(b.groupLosses()), 1e-5, 1e-4);
      }
      double[] fusedParameters = FusedHeadTrainingTest.parameters(fusedModel);
      double[] wholeParameters = FusedHeadTrainingTest.parameters(wholeModel);
      double travelled = FusedVersusLibtorchTrainingTest.distance(wholeParameters, initial);
      double disagreement = FusedVersusLibtorchTrainingTest.distance(fusedParameters, wholeParameters);
      assertTrue(travelled > 0, "training moved nothing");
      assertTrue(disagreement <= 1e-3 * travelled, family + ": the trained models differ by " + disagreement
          + " after moving " + travelled);
    }
  }

  /** The family's checkpoint, with LoRA (rank 2, no dropout) on each of its linear layers when asked. */
  private static TransformerLm model(Path dir, boolean lora) {
    TransformerLm model = Checkpoints.load(dir, ScalarType.Float);
    if (lora) {
      LoraAdapters.attach(model, new LoraConfig(2, 4, 0, LoraAdapters.linearLayers(model), null), 5);
      // B = 0 at attach would leave A without a gradient on the first step: start both away from zero.
      torch.manual_seed(3);
      dev.grpo4j.model.TestModels.randomizeAdapters(model, 0.05);
    }
    return model;
  }
}
