package dev.grpo4j.torch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.Backend;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Models;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.platform.TensorVectors;
import dev.grpo4j.testing.Close;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Supervised fine-tuning in micro-batches: each scaled by its share of the step's response positions, they add up
 * to the gradient of the whole batch's mean, as the SFT stage's gradient accumulation and data parallelism need.
 */
class SupervisedAccumulateTest {
  @ParameterizedTest(name = "fused head {0}")
  @ValueSource(booleans = {false, true})
  void microBatchesScaledByTheirPositionsAddUpToTheWholeBatch(boolean fused) {
    TransformerLm model = Models.random(ModelConfig.tiny("tiny-llama", 257), 42);
    EncodedPairs data = FusedVersusLibtorchTrainingTest.randomPairs(new Random(7));
    FusedLmHead head = fused ? FusedLmHead.withChunkTokens(Backend.CPU, 2, 0, 7) : null;
    int[] all = {0, 3, 5, 8, 11, 13, 17};
    int[] first = {0, 3, 5};
    int[] second = {8, 11, 13, 17};
    long positions = data.chosenPositions(all);
    assertTrue(data.chosenPositions(first) + data.chosenPositions(second) == positions);

    clearGradients(model);
    SupervisedObjective objective = SupervisedObjective.of(head);
    double wholeMean = objective.accumulate(model, data, all, 1.0);
    double[] whole = gradients(model);
    clearGradients(model);
    double a = objective.accumulate(model, data, first, (double) data.chosenPositions(first) / positions);
    double b = objective.accumulate(model, data, second, (double) data.chosenPositions(second) / positions);
    double[] accumulated = gradients(model);

    double recombined = (a * data.chosenPositions(first) + b * data.chosenPositions(second)) / positions;
    Close.assertClose("mean NLL", new double[] {recombined}, new double[] {wholeMean}, 1e-6, 1e-5);
    Close.assertClose("parameter gradients", accumulated, whole, 1e-7 + 1e-5 * Close.maxAbs(whole), 1e-5);
    assertTrue(Close.maxAbs(whole) > 0, "a gradient");
  }

  private static void clearGradients(TransformerLm model) {
    for (Tensor p : TensorVectors.owned(model.parameters())) {
      if (p.grad().defined()) {
        p.grad().zero_();
      }
    }
  }

  private static double[] gradients(TransformerLm model) {
    List<Double> values = new ArrayList<>();
    for (Tensor p : TensorVectors.owned(model.parameters())) {
      for (double v : Tensors.toDoubles(p.grad())) {
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
