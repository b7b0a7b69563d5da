package dev.grpo4j.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.grpo4j.GroupNormalization;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.GroupWeightState;
import dev.grpo4j.LossResult;
import dev.grpo4j.LossType;
import dev.grpo4j.SequenceLogProbs;
import dev.grpo4j.Weighting;
import dev.grpo4j.testing.Close;
import dev.grpo4j.testing.LossConfig;
import dev.grpo4j.testing.RandomPreferences;
import dev.grpo4j.testing.TorchObjective;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The adapter's loss, per-pair and per-group values and gradient against the same objective built from libtorch
 * ops and differentiated by libtorch's autograd.
 */
@SuppressWarnings("try") // PointerScope frees the tensors created inside it; the body never names it
class TorchAutogradTest {
  private static final long SEED = 20240531L;

  static List<LossConfig> configs() {
    return List.of(
        new LossConfig("GR-DPO", LossType.DPO, Weighting.ROBUST, GroupNormalization.BATCH_MEAN, 0.1, 0, false, 0.5,
            1, 0),
        new LossConfig("GR-DPO smoothed chi=0.5 C=0.3 freq", LossType.DPO, Weighting.ROBUST,
            GroupNormalization.DATASET_FREQUENCY, 0.5, 0.1, false, 2.0, 0.5, 0.3),
        new LossConfig("GR-IPO", LossType.IPO, Weighting.ROBUST, GroupNormalization.BATCH_MEAN, 0.1, 0, false, 0.05, 1,
            0),
        new LossConfig("GR-IPO length-normalised chi=0.3 freq", LossType.IPO, Weighting.ROBUST,
            GroupNormalization.DATASET_FREQUENCY, 0.2, 0, true, 0.3, 0.3, 0),
        new LossConfig("IS-DPO smoothed freq", LossType.DPO, Weighting.IMPORTANCE_SAMPLING,
            GroupNormalization.DATASET_FREQUENCY, 0.1, 0.2, false, 0, 1, 0),
        new LossConfig("IS-IPO length-normalised", LossType.IPO, Weighting.IMPORTANCE_SAMPLING,
            GroupNormalization.BATCH_MEAN, 0.2, 0, true, 0, 1, 0),
        new LossConfig("DPO", LossType.DPO, Weighting.AVERAGE, GroupNormalization.BATCH_MEAN, 1.0, 0, false, 0, 1, 0),
        new LossConfig("IPO length-normalised freq", LossType.IPO, Weighting.AVERAGE,
            GroupNormalization.DATASET_FREQUENCY, 0.1, 0, true, 0, 1, 0));
  }

  static List<RandomPreferences.Shape> shapes() {
    return List.of(
        new RandomPreferences.Shape("B=4 T=6 V=33 K=3, masked row, group 1 absent", 4, 6, 33, 3, 0.25, 5, 1),
        new RandomPreferences.Shape("B=3 T=1 V=7 K=2", 3, 1, 7, 2, 0, -1, -1),
        new RandomPreferences.Shape("B=3 T=4 V=11 K=1", 3, 4, 11, 1, 0.2, -1, -1),
        new RandomPreferences.Shape("B=8 T=16 V=257 K=4, chosen row 0 masked, group 3 absent", 8, 16, 257, 4, 0.3, 0,
            3));
  }

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (LossConfig c : configs()) {
      for (RandomPreferences.Shape s : shapes()) {
        out.add(Arguments.of(c, s));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} | {1}")
  @MethodSource("cases")
  void float32MatchesLibtorchAutograd(LossConfig c, RandomPreferences.Shape s) {
    compare(c, s, ScalarType.Float);
  }

  @Test
  void bfloat16MatchesLibtorchAutograd() {
    compare(configs().get(0), shapes().get(3), ScalarType.BFloat16);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("configs")
  void evaluateMatchesLibtorchWithoutUpdatingWeights(LossConfig c) {
    RandomPreferences.Shape s = shapes().get(0);
    long seed = seed(c, s) + 1;
    RandomPreferences batch = RandomPreferences.generate(new Random(seed), s, 2.0);
    int groups = batch.groupSizes().length;
    try (PointerScope scope = new PointerScope();
         GroupRobustLoss loss = c.build(batch.groupSizes())) {
      GroupWeightState state = new GroupWeightState(randomLogAlpha(new Random(seed), groups), 3);
      loss.restoreState(state);
      Tensor logits = PreferenceTensors.logitsLeaf(batch, ScalarType.Float);
      Tensor labels = PreferenceTensors.labels(batch, false);
      LossResult r = new TorchPreferenceLoss(loss).evaluate(logits, labels, PreferenceTensors.ref(batch),
          PreferenceTensors.groupIds(batch));
      assertEquals(state, loss.state(), "evaluate must not touch the group weights");

      TorchObjective.Parts p = TorchObjective.parts(c, logits, labels, PreferenceTensors.ref(batch),
          PreferenceTensors.groupIds(batch),
          batch.groupSizes());
      double[] weights = currentWeights(c, state, p, batch.groupSizes());
      Tolerance tol = Tolerance.of(p);
      String name = c + " | " + s + " | seed " + seed + " | evaluate";
      Close.assertClose(name + " group weights", r.objectiveWeights(), weights, 1e-7, 1e-5);
      Close.assertClose(name + " J", new double[] {r.loss()},
          Tensors.toDoubles(TorchObjective.objective(c, p, weights)), tol.loss, 1e-5);
      Close.assertClose(name + " pair losses", r.pairLosses(), Tensors.toDoubles(p.pairLoss()), tol.loss, 1e-5);
      Close.assertClose(name + " group losses", r.groupLosses(), Tensors.toDoubles(p.groupLoss()), tol.loss, 1e-5);
    }
  }

  @Test
  void sequenceLogProbsMatchLibtorch() {
    // An odd row count: sequence log-probs are per row, not per pair.
    RandomPreferences batch = RandomPreferences.generate(new Random(SEED), shapes().get(3), 3.0);
    try (PointerScope scope = new PointerScope();
         GroupRobustLoss loss = configs().get(0).build(batch.groupSizes())) {
      Tensor logits = PreferenceTensors.logitsLeaf(batch, ScalarType.Float).detach().narrow(0, 0, 15).contiguous();
      Tensor labels = PreferenceTensors.labels(batch, true).narrow(0, 0, 15).contiguous();
      SequenceLogProbs got = new TorchPreferenceLoss(loss).sequenceLogProbs(logits, labels);
      TorchObjective.Sequences want = TorchObjective.sequences(logits, labels);
      double[] wantLogps = Tensors.toDoubles(want.logps());
      Close.assertClose("sequence log-probs", got.logProbs(), wantLogps, 5e-7 * (1 + Close.maxAbs(wantLogps)), 1e-5);
      double[] counts = new double[got.tokenCounts().length];
      for (int r = 0; r < counts.length; r++) {
        counts[r] = got.tokenCounts()[r];
      }
      assertArrayEquals(Tensors.toDoubles(want.tokenCounts()), counts, "token counts");
    }
  }

  private static void compare(LossConfig c, RandomPreferences.Shape s, ScalarType type) {
    long seed = seed(c, s);
    Random rng = new Random(seed);
    RandomPreferences batch = RandomPreferences.generate(rng, s, 2.0);
    int groups = batch.groupSizes().length;
    boolean int32Labels = (seed & 1) == 0;
    String name = c + " | " + s + " | " + type + (int32Labels ? " int32" : " int64") + " labels | seed " + seed;
    try (PointerScope scope = new PointerScope();
         GroupRobustLoss loss = c.build(batch.groupSizes())) {
      // Start from non-uniform weights so the update is checked against a non-trivial log alpha.
      double[] logAlphaBefore = randomLogAlpha(rng, groups);
      loss.restoreState(new GroupWeightState(logAlphaBefore, 0));
      Tensor logits = PreferenceTensors.logitsLeaf(batch, type);
      double[] logitsBefore = Tensors.toDoubles(logits);
      Tensor labels = PreferenceTensors.labels(batch, int32Labels);
      Tensor ref = PreferenceTensors.ref(batch);
      Tensor ids = PreferenceTensors.groupIds(batch);

      TorchPreferenceLoss.Result result = new TorchPreferenceLoss(loss).forwardBackward(logits, labels, ref, ids);
      LossResult r = result.lossResult();
      assertEquals(type, result.grad().scalar_type().intern(), name + ": gradient dtype");
      assertArrayEquals(new long[] {2L * s.pairs(), s.seqLen(), s.vocab()}, shape(result.grad()), name + ": shape");
      assertArrayEquals(logitsBefore, Tensors.toDoubles(logits), name + ": the logits must be left unchanged");

      TorchObjective.Parts p = TorchObjective.parts(c, logits, labels, ref, ids, batch.groupSizes());
      double[] usedWeights = Close.widen(r.objectiveWeights());
      Tensor objective = TorchObjective.objective(c, p, usedWeights);
      objective.backward();
      Tolerance tol = Tolerance.of(p);

      Close.assertClose(name + " group weights", usedWeights,
          TorchObjective.expectedWeights(c, p, logAlphaBefore, batch.groupSizes()), 1e-7, 1e-5);
      if (c.weighting() == Weighting.ROBUST) {
        double[] alpha = loss.alpha();
        double[] w = new double[groups];
        for (int g = 0; g < groups; g++) {
          w[g] = (1 - c.chi()) / groups + c.chi() * alpha[g];
        }
        Close.assertClose(name + " stored state vs reported weights", w, usedWeights, 1e-7, 1e-5);
      }
      Close.assertClose(name + " J", new double[] {r.loss()}, Tensors.toDoubles(objective), tol.loss, 1e-5);
      Close.assertClose(name + " chosen log-probs", r.chosenLogps(),
          Tensors.toDoubles(p.seqLogps().narrow(0, 0, s.pairs())), tol.logp, 1e-5);
      Close.assertClose(name + " rejected log-probs", r.rejectedLogps(),
          Tensors.toDoubles(p.seqLogps().narrow(0, s.pairs(), s.pairs())), tol.logp, 1e-5);
      Close.assertClose(name + " margins", r.margins(), Tensors.toDoubles(p.margin()), tol.logp, 1e-5);
      Close.assertClose(name + " pair losses", r.pairLosses(), Tensors.toDoubles(p.pairLoss()), tol.loss, 1e-5);
      Close.assertClose(name + " group losses", r.groupLosses(), Tensors.toDoubles(p.groupLoss()), tol.loss, 1e-5);
      double[] counts = Tensors.toDoubles(p.groupCount());
      for (int g = 0; g < groups; g++) {
        assertEquals((int) counts[g], r.groupCounts()[g], name + ": pairs of group " + g);
      }

      double[] want = Tensors.toDoubles(logits.grad());
      double[] got = Tensors.toDoubles(result.grad());
      if (type == ScalarType.Float) {
        Close.assertClose(name + " dJ/dlogits", got, want, 1e-6 * Close.maxAbs(want), 1e-5);
      } else {
        // Both sides round the same fp32/fp64 value to bfloat16 (8-bit mantissa): allow one ulp either way.
        Close.assertClose(name + " dJ/dlogits", got, want, 1e-3 * Close.maxAbs(want), 1e-2);
      }
    }
  }

  /**
   * Absolute tolerances scaled to the batch. The kernel accumulates in fp32, so a sequence log-prob (and a margin,
   * a difference of them) carries an error of a few ulps of the largest |s_r|; a loss or objective value carries
   * a few ulps of its own magnitude. Measured errors are below a fifth of these bounds.
   */
  record Tolerance(double logp, double loss) {
    static Tolerance of(TorchObjective.Parts p) {
      double logp = 5e-7 * (1 + Close.maxAbs(Tensors.toDoubles(p.seqLogps())));
      double loss = 1e-6 * (1 + Math.max(Close.maxAbs(Tensors.toDoubles(p.pairLoss())),
          Close.maxAbs(Tensors.toDoubles(p.groupLoss()))));
      return new Tolerance(logp, loss);
    }
  }

  private static double[] currentWeights(LossConfig c, GroupWeightState state, TorchObjective.Parts p,
                                         long[] groupSizes) {
    int groups = groupSizes.length;
    if (c.weighting() != Weighting.ROBUST) {
      return TorchObjective.expectedWeights(c, p, state.logAlpha(), groupSizes);
    }
    double[] alpha = state.alpha();
    double[] w = new double[groups];
    for (int g = 0; g < groups; g++) {
      w[g] = (1 - c.chi()) / groups + c.chi() * alpha[g];
    }
    return w;
  }

  static double[] randomLogAlpha(Random rng, int groups) {
    double[] logAlpha = new double[groups];
    double max = Double.NEGATIVE_INFINITY;
    for (int g = 0; g < groups; g++) {
      logAlpha[g] = rng.nextGaussian();
      max = Math.max(max, logAlpha[g]);
    }
    double z = 0;
    for (double v : logAlpha) {
      z += Math.exp(v - max);
    }
    double logZ = max + Math.log(z);
    for (int g = 0; g < groups; g++) {
      logAlpha[g] -= logZ;
    }
    return logAlpha;
  }

  private static long seed(LossConfig c, RandomPreferences.Shape s) {
    return SEED + 31L * c.name().hashCode() + s.name().hashCode();
  }

  private static long[] shape(Tensor t) {
    long[] out = new long[(int) t.dim()];
    for (int d = 0; d < out.length; d++) {
      out[d] = t.size(d);
    }
    return out;
  }
}
