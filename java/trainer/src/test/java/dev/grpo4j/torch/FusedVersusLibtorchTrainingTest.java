package dev.grpo4j.torch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupNormalization;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.GroupWeightState;
import dev.grpo4j.LossResult;
import dev.grpo4j.LossType;
import dev.grpo4j.Weighting;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Models;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.platform.TensorVectors;
import dev.grpo4j.testing.Close;
import dev.grpo4j.testing.LossConfig;
import dev.grpo4j.testing.TorchObjective;
import dev.grpo4j.text.TokenPair;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Ten AdamW steps of the built-in tiny transformer trained twice from the same weights on the same batches: once
 * through {@link PreferenceTrainer#step} with the fused loss, once by libtorch autograd through
 * {@link TorchObjective} with the robust group weights tracked by hand. Per step the objective, the group losses
 * and the group weights agree, and the two trained models end with the same parameters.
 */
@SuppressWarnings("try") // PointerScope and NoGradGuard act by existing; the bodies never name them
class FusedVersusLibtorchTrainingTest {
  private static final long MODEL_SEED = 42;
  private static final long DATA_SEED = 7;
  private static final long BATCH_SEED = 13;
  private static final int[] PAIRS_PER_GROUP = {14, 4, 8};
  private static final int BATCH_PAIRS = 8;
  private static final int STEPS = 10;
  private static final double LEARNING_RATE = 1e-3;

  static List<LossConfig> configs() {
    return List.of(
        new LossConfig("GR-DPO freq", LossType.DPO, Weighting.ROBUST, GroupNormalization.DATASET_FREQUENCY, 0.1, 0,
            false, 1.0, 1, 0),
        new LossConfig("GR-DPO chi=0.5 C=0.2", LossType.DPO, Weighting.ROBUST, GroupNormalization.BATCH_MEAN, 0.5, 0,
            false, 2.0, 0.5, 0.2),
        new LossConfig("GR-IPO", LossType.IPO, Weighting.ROBUST, GroupNormalization.BATCH_MEAN, 0.1, 0, false, 0.05, 1,
            0),
        new LossConfig("DPO", LossType.DPO, Weighting.AVERAGE, GroupNormalization.BATCH_MEAN, 0.1, 0, false, 0, 1, 0));
  }

  /** What one pure-libtorch step produced, copied out of its {@code PointerScope}. */
  private record PureStep(double objective, double[] groupLosses, double[] weights, double[] logAlpha) {}

  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void fusedTrainingFollowsLibtorchAutograd(LossConfig c) {
    long[] groupSizes = new long[PAIRS_PER_GROUP.length];
    for (int g = 0; g < groupSizes.length; g++) {
      groupSizes[g] = PAIRS_PER_GROUP[g];
    }
    ModelConfig config = ModelConfig.tiny("tiny-llama", 257);
    TransformerLm fusedModel = Models.random(config, MODEL_SEED);
    TransformerLm pureModel = Models.random(config, MODEL_SEED);
    double[] initialParameters = parameters(pureModel);
    try (GroupRobustLoss loss = c.build(groupSizes)) {
      TorchPreferenceLoss adapter = new TorchPreferenceLoss(loss);
      EncodedPairs data = scored(fusedModel, randomTokenPairs(new Random(DATA_SEED)));
      PreferenceTrainer trainer = new PreferenceTrainer(fusedModel,
          new AdamW(fusedModel.parameters(), new AdamWOptions(LEARNING_RATE)), adapter, null);
      AdamW pureOptimizer = new AdamW(pureModel.parameters(), new AdamWOptions(LEARNING_RATE));
      double[] logAlpha = GroupWeightState.uniform(groupSizes.length).logAlpha();
      double lossBefore = meanPairLoss(c, pureModel, data, groupSizes);
      Random batches = new Random(BATCH_SEED);
      for (int step = 0; step < STEPS; step++) {
        int[] pairs = sample(batches, data.size());
        String name = c + " step " + step;
        LossResult fused = trainer.step(data, pairs);
        PureStep pure = pureStep(c, pureModel, pureOptimizer, data, pairs, logAlpha, groupSizes);
        logAlpha = pure.logAlpha();
        // One call of the fp32 kernel and of the float64 oracle differ by ~1e-7 relative (TorchAutogradTest), and
        // the trajectories cannot drift far apart: AdamW divides each update by the gradient's own running scale,
        // so a gradient off by 1e-6 relative moves a weight off by that fraction of the learning rate, not more.
        // After ten steps the models differ by ~1e-5 of the distance they travelled, and the values below by a
        // few 1e-6 (measured at most 2.5e-6 for J, 4.8e-6 for a group loss, 1.5e-6 for a weight), under a tenth
        // of these bounds.
        Close.assertClose(name + " J", new double[] {fused.loss()}, new double[] {pure.objective()}, 1e-5, 1e-4);
        Close.assertClose(name + " group losses", fused.groupLosses(), pure.groupLosses(), 1e-5, 1e-4);
        Close.assertClose(name + " group weights", fused.objectiveWeights(), pure.weights(), 1e-5, 1e-4);
        Close.assertClose(name + " log alpha", loss.state().logAlpha(), logAlpha, 1e-5, 1e-4);
      }
      double[] fusedParameters = parameters(fusedModel);
      double[] pureParameters = parameters(pureModel);
      double travelled = distance(pureParameters, initialParameters);
      double disagreement = distance(fusedParameters, pureParameters);
      assertTrue(disagreement <= 1e-4 * travelled, c + ": the trained models differ by " + disagreement
          + " after each moved " + travelled + " from the initial weights");
      // A weight whose gradient is near zero gets an AdamW update of order the learning rate from either side's
      // rounding noise alone (measured at most 1.3e-5 = LR / 75), so single weights are held to a tenth of LR.
      Close.assertClose(c + " trained parameters", fusedParameters, pureParameters, LEARNING_RATE / 10, 1e-4);
      double lossAfter = meanPairLoss(c, pureModel, data, groupSizes);
      assertTrue(lossAfter < 0.9 * lossBefore, c + ": training must lower the mean pair loss over the data, got "
          + lossBefore + " -> " + lossAfter);
    }
  }

  private static PureStep pureStep(LossConfig c, TransformerLm model, AdamW optimizer, EncodedPairs data, int[] pairs,
                                   double[] logAlphaBefore, long[] groupSizes) {
    try (PointerScope scope = new PointerScope()) {
      EncodedPairs.Batch batch = data.batch(pairs);
      optimizer.zero_grad();
      Tensor logits = model.forward(batch.inputIds());
      TorchObjective.Parts p = TorchObjective.parts(c, logits, batch.labels(), batch.refLogps(), batch.groupIds(),
          groupSizes);
      double[] weights = TorchObjective.expectedWeights(c, p, logAlphaBefore, groupSizes);
      Tensor objective = TorchObjective.objective(c, p, weights);
      objective.backward();
      optimizer.step();
      double[] logAlpha = logAlphaBefore;
      if (c.weighting() == Weighting.ROBUST) {
        logAlpha = logSoftmax(logAlphaBefore, Tensors.toDoubles(p.adjustedGroupLoss()), c.eta());
      }
      return new PureStep(Tensors.scalar(objective), Tensors.toDoubles(p.groupLoss()), weights, logAlpha);
    }
  }

  /** {@code log softmax(logAlpha + eta A)}: the state the weights of {@code expectedWeights} are built from. */
  private static double[] logSoftmax(double[] logAlpha, double[] adjusted, double eta) {
    double[] out = new double[logAlpha.length];
    double max = Double.NEGATIVE_INFINITY;
    for (int g = 0; g < out.length; g++) {
      out[g] = logAlpha[g] + eta * adjusted[g];
      max = Math.max(max, out[g]);
    }
    double sum = 0;
    for (double v : out) {
      sum += Math.exp(v - max);
    }
    double logZ = max + Math.log(sum);
    for (int g = 0; g < out.length; g++) {
      out[g] -= logZ;
    }
    return out;
  }

  private static double meanPairLoss(LossConfig c, TransformerLm model, EncodedPairs data, long[] groupSizes) {
    int[] all = new int[data.size()];
    for (int i = 0; i < all.length; i++) {
      all[i] = i;
    }
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      EncodedPairs.Batch batch = data.batch(all);
      TorchObjective.Parts p = TorchObjective.parts(c, model.forward(batch.inputIds()), batch.labels(),
          batch.refLogps(), batch.groupIds(), groupSizes);
      return Tensors.scalar(p.pairLoss().mean());
    }
  }

  /**
   * Pairs of uneven prompt and response lengths in groups of {@link #PAIRS_PER_GROUP} pairs, shuffled so that
   * groups interleave.
   */
  static EncodedPairs randomPairs(Random rng) {
    return EncodedPairs.encode(randomTokenPairs(rng));
  }

  /** {@code pairs} with the sequence log-probs of {@code reference} attached, as a run scores its references. */
  static EncodedPairs scored(CausalLm reference, List<TokenPair> pairs) {
    SequenceScorer.Scores scores = new SequenceScorer(reference, Backend.CPU, new Device("cpu"))
        .score(pairs, 16, done -> { });
    return EncodedPairs.encode(pairs).withReference(scores.chosen(), scores.rejected());
  }

  /** The pairs of {@link #randomPairs}, not encoded. */
  static List<TokenPair> randomTokenPairs(Random rng) {
    return randomTokenPairs(rng, 257);
  }

  /** The pairs of {@link #randomPairs}, not encoded, over tokens {@code 1 .. vocab-1}. */
  static List<TokenPair> randomTokenPairs(Random rng, int vocab) {
    List<TokenPair> pairs = new ArrayList<>();
    for (int g = 0; g < PAIRS_PER_GROUP.length; g++) {
      for (int i = 0; i < PAIRS_PER_GROUP[g]; i++) {
        pairs.add(new TokenPair(g, tokens(rng, 1 + rng.nextInt(5), vocab), tokens(rng, 1 + rng.nextInt(8), vocab),
            tokens(rng, 1 + rng.nextInt(8), vocab)));
      }
    }
    Collections.shuffle(pairs, rng);
    return pairs;
  }

  private static int[] tokens(Random rng, int length, int vocab) {
    int[] out = new int[length];
    for (int i = 0; i < length; i++) {
      out[i] = 1 + rng.nextInt(vocab - 1);
    }
    return out;
  }

  static int[] sample(Random rng, int n) {
    List<Integer> indices = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      indices.add(i);
    }
    Collections.shuffle(indices, rng);
    int[] out = new int[BATCH_PAIRS];
    for (int b = 0; b < out.length; b++) {
      out[b] = indices.get(b);
    }
    return out;
  }

  private static double[] parameters(TransformerLm model) {
    List<double[]> parts = new ArrayList<>();
    int total = 0;
    for (Tensor t : TensorVectors.owned(model.parameters())) {
      double[] values = Tensors.toDoubles(t);
      parts.add(values);
      total += values.length;
    }
    double[] out = new double[total];
    int at = 0;
    for (double[] values : parts) {
      System.arraycopy(values, 0, out, at, values.length);
      at += values.length;
    }
    return out;
  }

  static double distance(double[] a, double[] b) {
    double sum = 0;
    for (int i = 0; i < a.length; i++) {
      sum += (a[i] - b[i]) * (a[i] - b[i]);
    }
    return Math.sqrt(sum);
  }
}
