package dev.grpo4j.synthetic;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.GroupWeightState;
import dev.grpo4j.LossResult;
import dev.grpo4j.LossType;
import dev.grpo4j.Weighting;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The log-linear policy trained through the fused loss, against the paper's formulas written out in double here.
 */
class LogLinearTrainerTest {
  private static final GroupLinearBandit ENV = new GroupLinearBandit(FeatureType.SWAPPED);
  private static final int D = GroupLinearBandit.FEATURE_DIM;

  private static SeedData seed(long seed, SyntheticSetting setting, int trainPairs, int evalPairs) {
    return new SeedData(seed, new SyntheticData.Spec(setting.uneven(), setting.group0Share(), trainPairs, evalPairs),
        ENV);
  }

  private static LogLinearTrainer.Hyper hyper(double lr, double beta, double eta, int iterations, int logEvery,
                                              ImportanceSampling is) {
    return new LogLinearTrainer.Hyper(lr, beta, eta, iterations, logEvery, 0, is);
  }

  @Test
  void marginsAreThetaDotFeatureDifference() {
    SeedData s = seed(2021, SyntheticSetting.UNEVEN_IMBALANCED, 300, 50);
    double[] theta = s.data().theta0();
    LogLinearTrainer.Hyper h = hyper(0.9, 1, 0.5, 1, 1, ImportanceSampling.GROUP_MEAN);
    try (Arena arena = Arena.ofConfined();
         GroupRobustLoss loss = LogLinearTrainer.loss(SyntheticMethod.DPO, h, s.trainGroupCounts())) {
      KernelBatch batch = new KernelBatch(s.train, arena);
      batch.setLogits(theta);
      float[] margins = loss.evaluate(batch.batch).margins();
      for (int i = 0; i < s.train.pairs; i++) {
        assertEquals(dot(theta, s.train.diff, i), margins[i], 2e-5, "pair " + i);
      }
    }
  }

  @Test
  void oneStepOfEachGradientMethodIsThePapersUpdate() {
    SeedData s = seed(2022, SyntheticSetting.UNEVEN_IMBALANCED, 300, 50);
    for (SyntheticMethod method : List.of(SyntheticMethod.DPO, SyntheticMethod.IPO, SyntheticMethod.IS_DPO,
        SyntheticMethod.IS_IPO, SyntheticMethod.GR_DPO, SyntheticMethod.GR_IPO)) {
      for (ImportanceSampling is : ImportanceSampling.values()) {
        LogLinearTrainer.Hyper h = hyper(0.9, 1.0, 0.5, 1, 1, is);
        double[] expected = papersStep(s, method, h);
        double[] actual = LogLinearTrainer.run(s, method, h).last().theta();
        assertArrayEquals(expected, actual, 2e-5, method + " " + is);
      }
    }
  }

  @Test
  void withOneGroupGrDpoEqualsDpo() {
    SeedData two = seed(2023, SyntheticSetting.UNEVEN_IMBALANCED, 300, 100);
    SyntheticData d = two.data();
    SyntheticData oneGroup = new SyntheticData(allGroupZero(d.train()), allGroupZero(d.validation()), d.test(),
        d.theta0());
    SeedData s = new SeedData(2023, oneGroup, ENV);
    assertEquals(1, s.groups());
    LogLinearTrainer.Hyper h = hyper(0.9, 1.0, 0.5, 300, 50, ImportanceSampling.GROUP_MEAN);
    List<LogLinearTrainer.Point> dpo = LogLinearTrainer.run(s, SyntheticMethod.DPO, h).curve();
    List<LogLinearTrainer.Point> gr = LogLinearTrainer.run(s, SyntheticMethod.GR_DPO, h).curve();
    assertEquals(dpo.size(), gr.size());
    for (int i = 0; i < dpo.size(); i++) {
      assertArrayEquals(dpo.get(i).theta(), gr.get(i).theta(), 1e-5, "iteration " + dpo.get(i).iteration());
      assertArrayEquals(dpo.get(i).valGroupLoss(), gr.get(i).valGroupLoss(), 1e-6);
      assertArrayEquals(new double[] {1.0}, gr.get(i).groupWeights(), 0);
    }
    // and they moved
    assertTrue(Math.abs(dpo.getLast().theta()[0] - dpo.getFirst().theta()[0]) > 1e-3);
  }

  @Test
  void importanceSamplingWeightsAreInverseGroupSizesNormalised() {
    SeedData s = seed(2024, SyntheticSetting.UNEVEN_IMBALANCED, 300, 50);
    long[] n = s.trainGroupCounts();
    assertArrayEquals(new long[] {60, 240}, n);
    double z = 1.0 / n[0] + 1.0 / n[1];
    double[] expected = {1.0 / n[0] / z, 1.0 / n[1] / z};   // 0.8, 0.2
    for (SyntheticMethod method : List.of(SyntheticMethod.IS_DPO, SyntheticMethod.IS_IPO)) {
      LogLinearTrainer.Run run = LogLinearTrainer.run(s, method,
          hyper(0.9, 1, 0.5, 4, 2, ImportanceSampling.GROUP_MEAN));
      for (LogLinearTrainer.Point p : run.curve()) {
        assertArrayEquals(expected, p.groupWeights(), 1e-6, method + " at " + p.iteration());
      }
      // The paper's per-pair variant: equal weights on the group means, the step scaled by K / (B sum 1/N_g).
      LogLinearTrainer.Hyper perPair = hyper(0.9, 1, 0.5, 1, 1, ImportanceSampling.PER_PAIR);
      assertArrayEquals(new double[] {0.5, 0.5}, LogLinearTrainer.run(s, method, perPair).last().groupWeights(), 1e-7);
      assertEquals(2 / (300 * z), LogLinearTrainer.stepScale(method, perPair, n), 1e-15);
      assertEquals(0.32, LogLinearTrainer.stepScale(method, perPair, n), 1e-12);
    }
    // Balanced data: IS is plain averaging.
    SeedData balanced = seed(2024, SyntheticSetting.UNEVEN_BALANCED, 300, 50);
    assertArrayEquals(new double[] {0.5, 0.5}, LogLinearTrainer.run(balanced, SyntheticMethod.IS_DPO,
        hyper(0.9, 1, 0.5, 1, 1, ImportanceSampling.GROUP_MEAN)).last().groupWeights(), 1e-7);
  }

  @Test
  void closedFormIsTheFixedPointOfGradientGrIpoWithTheSameWeights() {
    SeedData s = seed(2025, SyntheticSetting.UNEVEN_IMBALANCED, 40, 20);   // 8 + 32 pairs
    double beta = 1.0;
    double[] alpha = {0.7, 0.3};
    double[] pairWeight = {alpha[0] / 8, alpha[1] / 32};
    double[] closed = WeightedLeastSquares.solve(s.train.diff, s.train.groups, pairWeight, 0, 1 / (2 * beta));
    // Gradient GR-IPO with the weights held at alpha (eta = 0), as the kernel computes it.
    try (Arena arena = Arena.ofConfined();
         GroupRobustLoss loss = GroupRobustLoss.builder().lossType(LossType.IPO).beta(beta)
             .weighting(Weighting.ROBUST).eta(0).groupSizes(s.trainGroupCounts()).backend(Backend.CPU).threads(1)
             .build()) {
      loss.restoreState(new GroupWeightState(new double[] {Math.log(alpha[0]), Math.log(alpha[1])}, 0));
      KernelBatch batch = new KernelBatch(s.train, arena);
      MemorySegment grad = arena.allocate(batch.logitsBytes(), 4);
      float[] dLogits = new float[batch.logitsCount()];
      double[] atClosed = kernelGradient(s, loss, batch, grad, dLogits, closed);
      double[] atStart = kernelGradient(s, loss, batch, grad, dLogits, s.data().theta0());
      assertTrue(norm(atClosed) < 1e-4 * norm(atStart), "gradient at the closed form " + norm(atClosed)
          + " vs at theta0 " + norm(atStart));
      assertArrayEquals(alpha, loss.alpha(), 1e-12);   // eta = 0: weights unchanged

      // Gradient descent with those weights converges to the closed form.
      double[] theta = s.data().theta0();
      for (int t = 0; t < 20_000; t++) {
        double[] g = kernelGradient(s, loss, batch, grad, dLogits, theta);
        for (int k = 0; k < D; k++) {
          theta[k] -= 5.0 * g[k];
        }
      }
      assertArrayEquals(closed, theta, 2e-3 * norm(closed));
    }
  }

  @Test
  void closedFormRunUsesTheKernelsUpdatedWeights() {
    SeedData s = seed(2026, SyntheticSetting.UNEVEN_IMBALANCED, 300, 50);
    LogLinearTrainer.Hyper h = hyper(0.9, 1.0, 0.5, 1, 1, ImportanceSampling.GROUP_MEAN);
    LogLinearTrainer.Point p = LogLinearTrainer.run(s, SyntheticMethod.GR_IPO_CLOSED_FORM, h).last();
    // Weights after one update from theta0's group IPO losses.
    double[] theta0 = s.data().theta0();
    double[] groupLoss = new double[2];
    int[] count = new int[2];
    for (int i = 0; i < s.train.pairs; i++) {
      double d = dot(theta0, s.train.diff, i) - 0.5;
      groupLoss[s.train.groups[i]] += d * d;
      count[s.train.groups[i]]++;
    }
    double a0 = 0.5 * Math.exp(0.5 * groupLoss[0] / count[0]);
    double a1 = 0.5 * Math.exp(0.5 * groupLoss[1] / count[1]);
    double[] w = {a0 / (a0 + a1), a1 / (a0 + a1)};
    assertArrayEquals(w, p.groupWeights(), 1e-5);
    double[] expected = WeightedLeastSquares.solve(s.train.diff, s.train.groups,
        new double[] {w[0] / count[0], w[1] / count[1]}, 0, 0.5);
    assertArrayEquals(expected, p.theta(), 1e-4 * norm(expected));
  }

  @Test
  void leastSquaresSolvesAKnownSystemAndAppliesTheRidge() {
    // Rows e_0..e_3 with weight 1: theta = c * 1 (ridge 0), c / (1 + lambda) with a ridge.
    double[] diff = new double[16];
    int[] groups = new int[4];
    for (int i = 0; i < 4; i++) {
      diff[i * 4 + i] = 1;
    }
    assertArrayEquals(new double[] {0.5, 0.5, 0.5, 0.5},
        WeightedLeastSquares.solve(diff, groups, new double[] {1}, 0, 0.5), 1e-15);
    assertArrayEquals(new double[] {0.25, 0.25, 0.25, 0.25},
        WeightedLeastSquares.solve(diff, groups, new double[] {1}, 1, 0.5), 1e-15);
  }

  /** The paper's full-batch step (its bandit code), in double, from theta0. */
  private static double[] papersStep(SeedData s, SyntheticMethod method, LogLinearTrainer.Hyper h) {
    double[] theta = s.data().theta0();
    double beta = h.beta();
    int n = s.train.pairs;
    long[] sizes = s.trainGroupCounts();
    double[] loss = new double[n];
    double[] dh = new double[n];
    double[] groupLoss = new double[2];
    for (int i = 0; i < n; i++) {
      double m = dot(theta, s.train.diff, i);
      if (method.lossType() == LossType.DPO) {
        loss[i] = Math.log1p(Math.exp(-beta * m));
        dh[i] = -beta / (1 + Math.exp(beta * m));
      } else {
        double d = m - 1 / (2 * beta);
        loss[i] = d * d;
        dh[i] = 2 * d;
      }
      groupLoss[s.train.groups[i]] += loss[i] / sizes[s.train.groups[i]];
    }
    double[] pairWeight = new double[2];   // dJ/dl_i per group
    switch (method.weighting()) {
      case AVERAGE -> java.util.Arrays.fill(pairWeight, 1.0 / n);
      case IMPORTANCE_SAMPLING -> {
        double z = 1.0 / sizes[0] + 1.0 / sizes[1];
        for (int g = 0; g < 2; g++) {
          double w = 1.0 / sizes[g] / z;
          // group-mean: w_g * mean over the group; per-pair (the paper's code): w_g * sum over the group / B
          pairWeight[g] = h.importanceSampling() == ImportanceSampling.GROUP_MEAN ? w / sizes[g] : w / n;
        }
      }
      case ROBUST -> {
        double a0 = 0.5 * Math.exp(h.eta() * groupLoss[0]);
        double a1 = 0.5 * Math.exp(h.eta() * groupLoss[1]);
        pairWeight[0] = a0 / (a0 + a1) / sizes[0];
        pairWeight[1] = a1 / (a0 + a1) / sizes[1];
      }
    }
    double[] next = theta.clone();
    for (int i = 0; i < n; i++) {
      double c = pairWeight[s.train.groups[i]] * dh[i];
      for (int k = 0; k < D; k++) {
        next[k] -= h.learningRate() * c * s.train.diff[i * D + k];
      }
    }
    return next;
  }

  private static double[] kernelGradient(SeedData s, GroupRobustLoss loss, KernelBatch batch, MemorySegment grad,
                                         float[] dLogits, double[] theta) {
    batch.setLogits(theta);
    LossResult r = loss.forwardBackward(batch.batch, grad);
    assertEquals(s.train.pairs, r.numPairs());
    MemorySegment.copy(grad, JAVA_FLOAT, 0, dLogits, 0, dLogits.length);
    double[] g = new double[D];
    s.train.thetaGradient(dLogits, g);
    return g;
  }

  private static PreferenceSet allGroupZero(PreferenceSet set) {
    return new PreferenceSet(set.s0(), set.s1(), new int[set.size()], set.chosen(), set.rejected());
  }

  private static double dot(double[] theta, double[] rows, int i) {
    double s = 0;
    for (int k = 0; k < D; k++) {
      s += theta[k] * rows[i * D + k];
    }
    return s;
  }

  private static double norm(double[] v) {
    double s = 0;
    for (double x : v) {
      s += x * x;
    }
    return Math.sqrt(s);
  }
}
