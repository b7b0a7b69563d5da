package dev.grpo4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.grpo4j.testing.Close;
import dev.grpo4j.testing.TestSeed;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CPU backend against the REFERENCE backend (double precision, single-threaded, obvious loops; itself checked
 * against a float64 PyTorch oracle by ci/gpu-check.sh and by an outside float64 program), on fresh random inputs of
 * awkward shapes, every loss type, weighting and normalisation.
 */
class GroupRobustLossTest {
  private static final long SEED = TestSeed.get();

  record Shape(int pairs, int seqLen, int vocab, int groups, int maskedRow, int absentGroup, double scale) {}

  /** One loss configuration, as the builder takes it. */
  record Config(LossType lossType, Weighting weighting, GroupNormalization normalization, double beta,
                double labelSmoothing, boolean ipoLengthNorm, double eta, double chi, double adjustment, int groups,
                long[] groupSizes) {}

  /** Every loss type, weighting and normalisation, with label smoothing, length norm, chi and C varied. */
  static List<Config> configs() {
    return List.of(
        config(LossType.DPO, Weighting.ROBUST, GroupNormalization.BATCH_MEAN, 0.1, 0, false, 0.5, 1, 0),
        config(LossType.DPO, Weighting.ROBUST, GroupNormalization.DATASET_FREQUENCY, 0.5, 0.1, false, 2.0, 0.5, 0.3),
        config(LossType.IPO, Weighting.ROBUST, GroupNormalization.BATCH_MEAN, 0.05, 0, false, 0.01, 1, 0),
        config(LossType.IPO, Weighting.IMPORTANCE_SAMPLING, GroupNormalization.BATCH_MEAN, 0.2, 0, true, 0, 1, 0),
        config(LossType.DPO, Weighting.AVERAGE, GroupNormalization.BATCH_MEAN, 1.0, 0, false, 0, 1, 0),
        config(LossType.IPO, Weighting.AVERAGE, GroupNormalization.DATASET_FREQUENCY, 0.1, 0, true, 0, 1, 0),
        config(LossType.DPO, Weighting.IMPORTANCE_SAMPLING, GroupNormalization.DATASET_FREQUENCY, 0.1, 0.2, false, 0,
            1, 1.0),
        config(LossType.DPO, Weighting.ROBUST, GroupNormalization.BATCH_MEAN, 0.1, 0, false, 1.0, 0, 0));
  }

  static Stream<Arguments> cases() {
    List<Config> configs = configs();
    List<Shape> shapes = List.of(
        new Shape(3, 1, 1, 1, -1, -1, 1),
        new Shape(4, 47, 7, 7, 2, 3, 1),
        new Shape(2, 3, 50257, 2, -1, -1, 1),
        new Shape(5, 5, 8, 7, 7, 6, 1e4),
        new Shape(1, 1, 7, 1, -1, -1, 3),
        new Shape(6, 2, 33, 3, 0, 1, 1));
    List<Arguments> out = new ArrayList<>();
    for (int c = 0; c < configs.size(); c++) {
      for (int s = 0; s < shapes.size(); s++) {
        // Every shape with every config in fp32; the 16-bit types on a rotating subset.
        out.add(arguments(configs.get(c), shapes.get(s), LogitsType.F32, LabelType.I64));
        if ((c + s) % 3 == 0) {
          out.add(arguments(configs.get(c), shapes.get(s), LogitsType.BF16, LabelType.I32));
        }
        if ((c + s) % 3 == 1) {
          out.add(arguments(configs.get(c), shapes.get(s), LogitsType.F16, LabelType.I32));
        }
      }
    }
    return out.stream();
  }

  private static Arguments arguments(Config c, Shape s, LogitsType lt, LabelType lb) {
    String name = String.format("%s %s %s beta=%s eps=%s len=%s eta=%s chi=%s C=%s | B=%d T=%d V=%d K=%d scale=%s | %s %s",
        c.lossType(), c.weighting(), c.normalization(), c.beta(), c.labelSmoothing(), c.ipoLengthNorm(), c.eta(),
        c.chi(), c.adjustment(), s.pairs(), s.seqLen(), s.vocab(), s.groups(), s.scale(), lt, lb);
    return Arguments.of(Named.of(name, c), s, lt, lb);
  }

  static Config config(LossType type, Weighting weighting, GroupNormalization norm, double beta,
                                     double smoothing, boolean lengthNorm, double eta, double chi, double adjustment) {
    return new Config(type, weighting, norm, beta, smoothing, lengthNorm, eta, chi, adjustment, 0, null);
  }

  static Config withGroups(Config c, int groups, long[] sizes) {
    return new Config(c.lossType(), c.weighting(), c.normalization(), c.beta(), c.labelSmoothing(),
        c.ipoLengthNorm(), c.eta(), c.chi(), c.adjustment(), groups, sizes);
  }

  static GroupRobustLoss build(Config c, Backend backend, int threads) {
    return GroupRobustLoss.builder().lossType(c.lossType()).weighting(c.weighting())
        .groupNormalization(c.normalization()).beta(c.beta()).labelSmoothing(c.labelSmoothing())
        .ipoLengthNormalization(c.ipoLengthNorm()).eta(c.eta()).chi(c.chi()).adjustment(c.adjustment())
        .groups(c.groups()).groupSizes(c.groupSizes()).backend(backend).threads(threads).build();
  }

  static long[] randomSizes(Random rng, int groups) {
    long[] sizes = new long[groups];
    for (int g = 0; g < groups; g++) {
      sizes[g] = 1 + rng.nextInt(300);
    }
    return sizes;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void cpuMatchesTheDoublePrecisionReference(Config base, Shape shape, LogitsType logitsType, LabelType labelType) {
    Random rng = new Random(SEED ^ base.hashCode() ^ shape.hashCode() ^ logitsType.ordinal());
    Config c = withGroups(base, shape.groups(), randomSizes(rng, shape.groups()));
    try (HostBatch batch = HostBatch.random(rng, shape.pairs(), shape.seqLen(), shape.vocab(), shape.groups(),
        logitsType, labelType, shape.scale(), 0.2, shape.maskedRow(), shape.absentGroup());
         GroupRobustLoss cpu = build(c, Backend.CPU, 0);
         GroupRobustLoss reference = build(c, Backend.REFERENCE, 1)) {
      MemorySegment referenceGrad = batch.logitsCopy();
      // Two training calls: the second starts from non-uniform weights. Then one evaluation.
      for (int step = 0; step < 2; step++) {
        LossResult want = reference.forwardBackward(batch.batch(), referenceGrad);
        LossResult got = cpu.forwardBackward(batch.batch(), batch.grad);
        String where = "step " + step + " " + TestSeed.describe(SEED);
        compare(where, c, shape, logitsType, got, want);
        // log alpha moves by eta * L_g, and L_g carries the fp32 error of the log-probs.
        Close.assertClose(where + " log alpha", cpu.state().logAlpha(), reference.state().logAlpha(), 1e-7, 1e-5);
        double rtolGrad = switch (logitsType) {
          case F32 -> 1e-5;
          case F16 -> 2e-3;
          case BF16 -> 1e-2;
        };
        double[] wantGrad = batch.read(referenceGrad);
        Close.assertClose(where + " grad", batch.read(batch.grad), wantGrad,
            rtolGrad * Close.maxAbs(wantGrad) + 1e-30, rtolGrad);
      }
      double[] before = cpu.state().logAlpha();
      compare("evaluate " + TestSeed.describe(SEED), c, shape, logitsType, cpu.evaluate(batch.batch()),
          reference.evaluate(batch.batch()));
      assertArrayEquals(before, cpu.state().logAlpha(), 0.0, "evaluate must not move the weights");
    }
  }

  static void compare(String where, Config c, Shape shape, LogitsType logitsType, LossResult got,
                      LossResult expected) {
    Expectation want = Expectation.of(expected);
    // Native pass 1 keeps fp32 per-position values: log-probs carry ~1e-7 relative error of log-sum-exp,
    // which for logits of scale S is ~S; sums over T positions scale that by T.
    double rtol = 1e-5;
    double logpAtol = rtol * shape.seqLen() * (1 + Math.log(shape.vocab()) + shape.scale());
    double lossAtol = 1e-6 + 2 * logpAtol * c.beta() * (c.lossType() == LossType.IPO ? 2 / c.beta() + 1 : 1);
    Close.assertClose(where + " chosen logp", got.chosenLogps(), want.chosenLogp(), logpAtol, rtol);
    Close.assertClose(where + " rejected logp", got.rejectedLogps(), want.rejectedLogp(), logpAtol, rtol);
    Close.assertClose(where + " margin", got.margins(), want.margin(), 2 * logpAtol, rtol);
    Close.assertClose(where + " chosen reward", got.chosenRewards(), want.chosenReward(), c.beta() * logpAtol, rtol);
    Close.assertClose(where + " rejected reward", got.rejectedRewards(), want.rejectedReward(), c.beta() * logpAtol,
        rtol);
    Close.assertClose(where + " pair loss", got.pairLosses(), want.pairLoss(), lossAtol, rtol);
    Close.assertClose(where + " group loss", got.groupLosses(), want.groupLoss(), lossAtol, rtol);
    Close.assertClose(where + " group weight", got.objectiveWeights(), want.groupWeight(), 1e-6, rtol);
    Close.assertClose(where + " objective", new double[] {got.loss()}, new double[] {want.loss()}, lossAtol, rtol);
    Close.assertClose(where + " group margin", got.groupMargins(), want.groupMargin(), 2 * logpAtol, rtol);
    Close.assertClose(where + " group chosen reward", got.groupChosenRewards(), want.groupChosenReward(),
        c.beta() * logpAtol, rtol);
    Close.assertClose(where + " group rejected reward", got.groupRejectedRewards(), want.groupRejectedReward(),
        c.beta() * logpAtol, rtol);
    assertArrayEquals(expected.groupCounts(), got.groupCounts(), where + " group counts");
    // Accuracies count signs: compare them only when no pair lies within rounding of a tie.
    boolean nearTie = false;
    for (int i = 0; i < want.margin().length; i++) {
      nearTie |= Math.abs(want.margin()[i]) <= 2 * logpAtol;
      nearTie |= Math.abs(want.chosenLogp()[i] - want.rejectedLogp()[i]) <= 2 * logpAtol;
    }
    if (!nearTie) {
      Close.assertClose(where + " reward accuracy", got.groupRewardAccuracies(), want.rewardAccuracy(), 1e-6, 0);
      Close.assertClose(where + " logp accuracy", got.groupLogpAccuracies(), want.logpAccuracy(), 1e-6, 0);
    }
    assertEquals(expected.numGroups(), got.numGroups());
  }

  /** The reference backend's outputs widened to double, under the names the comparisons use. */
  private record Expectation(double loss, double[] chosenLogp, double[] rejectedLogp, double[] margin,
                             double[] chosenReward, double[] rejectedReward, double[] pairLoss, double[] groupLoss,
                             double[] groupWeight, double[] groupMargin, double[] groupChosenReward,
                             double[] groupRejectedReward, double[] rewardAccuracy, double[] logpAccuracy) {
    static Expectation of(LossResult r) {
      return new Expectation(r.loss(), wide(r.chosenLogps()), wide(r.rejectedLogps()), wide(r.margins()),
          wide(r.chosenRewards()), wide(r.rejectedRewards()), wide(r.pairLosses()), wide(r.groupLosses()),
          wide(r.objectiveWeights()), wide(r.groupMargins()), wide(r.groupChosenRewards()),
          wide(r.groupRejectedRewards()), wide(r.groupRewardAccuracies()), wide(r.groupLogpAccuracies()));
    }
  }

  static double[] wide(float[] values) {
    double[] out = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = values[i];
    }
    return out;
  }
}
