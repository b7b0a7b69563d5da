package dev.grpo4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The group-weight update on cases whose values are known in advance. */
class GroupWeightsTest {
  /**
   * Two pairs, one per group, T = 1, V = 2, reference log-probs 0. Chosen rows have logits [a_i, 0], rejected
   * rows [0, 0], all labels 0, so {@code h_i = -softplus(-a_i) + log 2}. With a = (2, -1), beta = 1, eta = 0.5:
   * h = (0.566219, -0.620115), L = (0.449589, 1.050521), alpha = (0.425444, 0.574556), J = 0.794858.
   */
  private static HostBatch twoGroupBatch() {
    float[] logits = {2, 0, -1, 0, 0, 0, 0, 0};
    return new HostBatch(2, 1, 2, LogitsType.F32, LabelType.I32, logits, new long[] {0, 0, 0, 0}, new float[4],
        new int[] {0, 1});
  }

  @Test
  void robustUpdateMatchesHandComputedValues() {
    try (HostBatch batch = twoGroupBatch();
         GroupRobustLoss loss = GroupRobustLoss.builder().beta(1).eta(0.5).groups(2).threads(1).build()) {
      LossResult r = loss.forwardBackward(batch.batch(), batch.grad);
      assertArrayEquals(new float[] {0.5662192f, -0.6201145f}, r.margins(), 1e-6f);
      assertArrayEquals(new float[] {0.4495889f, 1.0505212f}, r.groupLosses(), 1e-6f);
      assertArrayEquals(new double[] {0.42544354, 0.57455646}, loss.alpha(), 1e-7);
      assertArrayEquals(new float[] {0.42544354f, 0.57455646f}, r.objectiveWeights(), 1e-6f);
      assertEquals(0.79485845, r.loss(), 1e-6);
      assertEquals(1.0505212, r.worstGroupLoss(), 1e-6);
      assertEquals(1.0505212 - 0.4495889, r.lossImbalance(), 1e-6);
      assertEquals(1, loss.state().steps());
    }
  }

  @Test
  void weightsMoveTowardTheWorseGroupOverSteps() {
    try (HostBatch batch = twoGroupBatch();
         GroupRobustLoss loss = GroupRobustLoss.builder().beta(1).eta(0.5).groups(2).threads(1).build()) {
      double previous = 0.5;
      for (int step = 0; step < 5; step++) {
        loss.forwardBackward(batch.batch(), batch.grad);
        double worse = loss.alpha()[1];
        assertTrue(worse > previous, "the weight of the group with the higher loss must grow");
        previous = worse;
      }
    }
  }

  @Test
  void hugeStepStaysFinite() {
    try (HostBatch batch = twoGroupBatch();
         GroupRobustLoss loss = GroupRobustLoss.builder().beta(1).eta(1e4).groups(2).threads(1).build()) {
      for (int step = 0; step < 3; step++) {
        LossResult r = loss.forwardBackward(batch.batch(), batch.grad);
        assertTrue(Double.isFinite(r.loss()));
        for (double la : loss.state().logAlpha()) {
          assertTrue(Double.isFinite(la), "log alpha must stay finite for eta*L ~ 1e4");
        }
      }
      // eta * (L_1 - L_0) ~ 6000: all weight on group 1, computed without overflow.
      assertEquals(1.0, loss.alpha()[1], 1e-12);
      assertEquals(0.0, loss.alpha()[0], 1e-12);
    }
  }

  @Test
  void chiZeroIsThePlainGroupAverage() {
    try (HostBatch batch = twoGroupBatch();
         GroupRobustLoss loss = GroupRobustLoss.builder().beta(1).eta(3).chi(0).groups(2).threads(1).build()) {
      for (int step = 0; step < 3; step++) {
        LossResult r = loss.forwardBackward(batch.batch(), batch.grad);
        assertEquals((0.4495889 + 1.0505212) / 2, r.loss(), 1e-6);
        assertArrayEquals(new float[] {0.5f, 0.5f}, r.objectiveWeights(), 0f);
      }
    }
  }

  @Test
  void importanceSamplingWeightsAreFixedInverseGroupSizes() {
    Random rng = new Random(7);
    try (HostBatch batch = HostBatch.random(rng, 8, 3, 11, 3, LogitsType.F32, LabelType.I32, 1, 0.1, -1, -1);
         GroupRobustLoss loss = GroupRobustLoss.builder().weighting(Weighting.IMPORTANCE_SAMPLING)
             .groupSizes(10, 30, 60).eta(5).threads(1).build()) {
      GroupWeightState before = loss.state();
      double inverse = 1.0 / 10 + 1.0 / 30 + 1.0 / 60;
      float[] expected = {(float) (0.1 / inverse), (float) (1.0 / 30 / inverse), (float) (1.0 / 60 / inverse)};
      for (int step = 0; step < 4; step++) {
        LossResult r = loss.forwardBackward(batch.batch(), batch.grad);
        assertArrayEquals(expected, r.objectiveWeights(), 1e-6f);
      }
      assertArrayEquals(before.logAlpha(), loss.state().logAlpha(), 0.0, "IS must never move the weight state");
    }
  }

  @Test
  void stateRoundTripsThroughExportAndRestore() {
    try (HostBatch batch = twoGroupBatch();
         GroupRobustLoss first = GroupRobustLoss.builder().beta(1).eta(0.5).groups(2).threads(1).build();
         GroupRobustLoss second = GroupRobustLoss.builder().beta(1).eta(0.5).groups(2).threads(1).build()) {
      first.forwardBackward(batch.batch(), batch.grad);
      second.restoreState(first.state());
      LossResult a = first.forwardBackward(batch.batch(), batch.grad);
      LossResult b = second.forwardBackward(batch.batch(), batch.grad);
      assertEquals(first.state(), second.state());
      assertEquals(a.loss(), b.loss(), 0.0);
      assertEquals(2, first.state().steps());
    }
  }

  @Test
  void absentGroupHasZeroLossAndLosesWeight() {
    float[] logits = {2, 0, -1, 0, 0, 0, 0, 0};
    try (HostBatch batch = new HostBatch(2, 1, 2, LogitsType.F32, LabelType.I32, logits, new long[] {0, 0, 0, 0},
        new float[4], new int[] {0, 0});
         GroupRobustLoss loss = GroupRobustLoss.builder().beta(1).eta(0.5).groups(3).threads(1).build()) {
      LossResult r = loss.forwardBackward(batch.batch(), batch.grad);
      assertArrayEquals(new int[] {2, 0, 0}, r.groupCounts());
      assertEquals(0f, r.groupLosses()[1]);
      assertEquals(0f, r.groupLosses()[2]);
      double[] alpha = loss.alpha();
      assertTrue(alpha[0] > alpha[1] && alpha[1] == alpha[2]);
    }
  }
}
