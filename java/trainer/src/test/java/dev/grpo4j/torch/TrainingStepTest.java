package dev.grpo4j.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.GroupNormalization;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LossType;
import dev.grpo4j.Weighting;
import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.platform.TensorVectors;
import dev.grpo4j.testing.Close;
import dev.grpo4j.testing.LossConfig;
import dev.grpo4j.testing.RandomPreferences;
import dev.grpo4j.testing.TorchObjective;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.EmbeddingImpl;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.SGDOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/**
 * Whole training steps of a tiny libtorch model (Embedding + Linear LM head): the fused loss's gradient pushed
 * through {@code logits.backward(grad)} gives the same parameter gradients as autograd through the pure-libtorch
 * objective, with a separate gradient buffer and in place.
 */
@SuppressWarnings("try") // PointerScope frees the tensors created inside it; the body never names it
class TrainingStepTest {
  private static final int PAIRS = 4;
  private static final int SEQ_LEN = 5;
  private static final int VOCAB = 37;
  private static final int INPUT_VOCAB = 23;
  private static final int HIDDEN = 16;
  private static final long[] GROUP_SIZES = {120, 40, 240};

  private static final LossConfig CONFIG = new LossConfig("GR-DPO", LossType.DPO, Weighting.ROBUST,
      GroupNormalization.BATCH_MEAN, 0.5, 0, false, 1.0, 1, 0);

  @Test
  void parameterGradientsMatchLibtorchAutogradOverSteps() {
    torch.manual_seed(7);
    Random rng = new Random(11);
    EmbeddingImpl embedding = new EmbeddingImpl(INPUT_VOCAB, HIDDEN);
    LinearImpl head = new LinearImpl(HIDDEN, VOCAB);
    List<Tensor> parameters = new ArrayList<>();
    parameters.addAll(List.of(TensorVectors.owned(embedding.parameters())));
    parameters.addAll(List.of(TensorVectors.owned(head.parameters())));
    SGD optimizer = new SGD(new TensorVector(parameters.toArray(new Tensor[0])), new SGDOptions(0.5));
    RandomPreferences batch = RandomPreferences.generate(rng, new RandomPreferences.Shape("model batch", PAIRS,
        SEQ_LEN, VOCAB,
        GROUP_SIZES.length, 0.2, 6, -1), 1.0);
    long[] inputIds = new long[2 * PAIRS * SEQ_LEN];
    for (int i = 0; i < inputIds.length; i++) {
      inputIds[i] = rng.nextInt(INPUT_VOCAB);
    }
    double[] firstWeights = null;
    try (GroupRobustLoss loss = CONFIG.build(GROUP_SIZES)) {
      TorchPreferenceLoss adapter = new TorchPreferenceLoss(loss);
      for (int step = 0; step < 4; step++) {
        boolean inPlace = step % 2 == 1;
        String name = "step " + step + (inPlace ? " (in place)" : " (separate gradient)");
        try (PointerScope scope = new PointerScope()) {
          Tensor ids = HostTensors.longs(inputIds, 2L * PAIRS, SEQ_LEN);
          Tensor labels = PreferenceTensors.labels(batch, false);
          Tensor ref = PreferenceTensors.ref(batch);
          Tensor groupIds = PreferenceTensors.groupIds(batch);

          optimizer.zero_grad();
          Tensor logits = head.forward(embedding.forward(ids));
          TorchPreferenceLoss.Result r = inPlace
              ? adapter.forwardBackward(logits, labels, ref, groupIds, logits.detach())
              : adapter.forwardBackward(logits, labels, ref, groupIds);
          logits.backward(r.grad(), new BoolOptional(), false, new TensorArrayRefOptional());
          List<double[]> fused = gradients(parameters);

          optimizer.zero_grad();
          Tensor replay = head.forward(embedding.forward(ids));
          TorchObjective.Parts p = TorchObjective.parts(CONFIG, replay, labels, ref, groupIds, GROUP_SIZES);
          double[] weights = Close.widen(r.lossResult().objectiveWeights());
          Tensor objective = TorchObjective.objective(CONFIG, p, weights);
          objective.backward();
          List<double[]> reference = gradients(parameters);

          Close.assertClose(name + " J", new double[] {r.lossResult().loss()}, Tensors.toDoubles(objective), 1e-6,
              1e-5);
          for (int i = 0; i < parameters.size(); i++) {
            double[] want = reference.get(i);
            Close.assertClose(name + " parameter " + i + " gradient", fused.get(i), want, 1e-6 * Close.maxAbs(want),
                1e-5);
          }
          if (step == 0) {
            firstWeights = weights;
          }
          optimizer.step();
        }
      }
      assertNotEquals(firstWeights[0], loss.alpha()[0], "the robust weights move between steps");
    }
  }

  @Test
  void inPlaceGradientIsBitIdenticalToSeparateGradient() {
    RandomPreferences batch = RandomPreferences.generate(new Random(3), new RandomPreferences.Shape("in place", 3, 7,
        129, 2, 0.2, -1,
        -1), 2.0);
    try (PointerScope scope = new PointerScope();
         GroupRobustLoss separate = CONFIG.build(new long[] {5, 9});
         GroupRobustLoss inPlace = CONFIG.build(new long[] {5, 9})) {
      Tensor logits = PreferenceTensors.logitsLeaf(batch, ScalarType.Float).detach();
      Tensor overwritten = logits.clone();
      TorchPreferenceLoss.Result a = new TorchPreferenceLoss(separate).forwardBackward(logits,
          PreferenceTensors.labels(batch, false),
          PreferenceTensors.ref(batch), PreferenceTensors.groupIds(batch));
      TorchPreferenceLoss.Result b = new TorchPreferenceLoss(inPlace).forwardBackward(overwritten,
          PreferenceTensors.labels(batch, false), PreferenceTensors.ref(batch), PreferenceTensors.groupIds(batch),
              overwritten);
      assertTrue(b.grad().is_same(overwritten), "the caller's buffer is returned");
      assertArrayEquals(Tensors.toDoubles(a.grad()), Tensors.toDoubles(overwritten));
      assertArrayEquals(a.lossResult().pairLosses(), b.lossResult().pairLosses());
    }
  }

  @Test
  void inPlaceWriteIsVisibleToAutogradVersionCheck() {
    // exp saves its output for backward; overwriting it in place must not silently produce a wrong gradient.
    RandomPreferences batch = RandomPreferences.generate(new Random(5), new RandomPreferences.Shape("saved output", 2,
        3, 9, 2, 0, -1,
        -1), 1.0);
    try (PointerScope scope = new PointerScope();
         GroupRobustLoss loss = CONFIG.build(new long[] {1, 1})) {
      Tensor leaf = PreferenceTensors.logitsLeaf(batch, ScalarType.Float);
      Tensor logits = leaf.exp();
      TorchPreferenceLoss.Result r = new TorchPreferenceLoss(loss).forwardBackward(logits,
          PreferenceTensors.labels(batch, false),
          PreferenceTensors.ref(batch), PreferenceTensors.groupIds(batch), logits.detach());
      RuntimeException e = assertThrows(RuntimeException.class,
          () -> logits.backward(r.grad(), new BoolOptional(), false, new TensorArrayRefOptional()));
      assertTrue(e.getMessage().contains("inplace"), e.getMessage());
    }
  }

  private static List<double[]> gradients(List<Tensor> parameters) {
    List<double[]> out = new ArrayList<>();
    for (Tensor p : parameters) {
      out.add(Tensors.toDoubles(p.grad()));
    }
    return out;
  }
}
