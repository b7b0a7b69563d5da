package dev.grpo4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The loss in phases (statistics, group step, gradient): with {@link GroupSync#LOCAL} it is the one-shot call bit
 * for bit; a batch split between two "ranks" whose statistics are summed in-process gives the whole batch's
 * objective, group losses, weights and gradient, with the weights identical on both ranks; accumulated
 * micro-batch statistics give the whole step's weight update.
 */
class GroupRobustLossPhasesTest {
  static Stream<Arguments> methods() {
    Stream.Builder<Arguments> cases = Stream.builder();
    for (Backend backend : new Backend[] {Backend.CPU, Backend.REFERENCE}) {
      for (Weighting weighting : Weighting.values()) {
        for (GroupNormalization normalization : GroupNormalization.values()) {
          for (LossType lossType : LossType.values()) {
            cases.add(Arguments.of(backend, weighting, normalization, lossType));
          }
        }
      }
    }
    return cases.build();
  }

  private static GroupRobustLoss loss(Backend backend, Weighting weighting, GroupNormalization normalization,
                                      LossType lossType) {
    return GroupRobustLoss.builder().backend(backend).lossType(lossType).beta(0.3).weighting(weighting)
        .groupNormalization(normalization).groups(4).groupSizes(40, 7, 19, 3).eta(0.8).chi(0.9).adjustment(0.2)
        .threads(2).build();
  }

  /** Logits, labels and references of 2 * pairs rows, as arrays, so that shards and the whole batch share them. */
  private record Rows(float[] logits, long[] labels, float[] ref, int[] groups, int pairs, int seqLen, int vocab) {
    static Rows random(Random rng, int pairs, int seqLen, int vocab, int[] groups) {
      float[] logits = new float[2 * pairs * seqLen * vocab];
      for (int e = 0; e < logits.length; e++) {
        logits[e] = (float) (2 * rng.nextGaussian());
      }
      long[] labels = new long[2 * pairs * seqLen];
      for (int p = 0; p < labels.length; p++) {
        labels[p] = rng.nextDouble() < 0.2 ? TokenLogits.IGNORE_INDEX : rng.nextInt(vocab);
      }
      float[] ref = new float[2 * pairs];
      for (int r = 0; r < ref.length; r++) {
        ref[r] = (float) (-3.0 * seqLen * rng.nextDouble());
      }
      return new Rows(logits, labels, ref, groups, pairs, seqLen, vocab);
    }

    /** Pairs [first, first + n): their chosen rows, then their rejected rows. */
    Rows shard(int first, int n) {
      int rowLogits = seqLen * vocab;
      float[] l = new float[2 * n * rowLogits];
      long[] lab = new long[2 * n * seqLen];
      float[] r = new float[2 * n];
      for (int half = 0; half < 2; half++) {
        int from = half * pairs + first;
        System.arraycopy(logits, from * rowLogits, l, half * n * rowLogits, n * rowLogits);
        System.arraycopy(labels, from * seqLen, lab, half * n * seqLen, n * seqLen);
        System.arraycopy(ref, from, r, half * n, n);
      }
      return new Rows(l, lab, r, Arrays.copyOfRange(groups, first, first + n), n, seqLen, vocab);
    }

    HostBatch batch() {
      return new HostBatch(pairs, seqLen, vocab, LogitsType.F32, LabelType.I64, logits, labels, ref, groups);
    }
  }

  @ParameterizedTest(name = "{0} {1} {2} {3}")
  @MethodSource("methods")
  void localSyncIsTheOneShotCallBitForBit(Backend backend, Weighting weighting, GroupNormalization normalization,
                                          LossType lossType) {
    Rows rows = Rows.random(new Random(11), 6, 7, 53, new int[] {0, 1, 2, 0, 1, 0});
    try (HostBatch a = rows.batch(); HostBatch b = rows.batch();
         GroupRobustLoss oneShot = loss(backend, weighting, normalization, lossType);
         GroupRobustLoss phases = loss(backend, weighting, normalization, lossType)) {
      for (int step = 0; step < 3; step++) {
        LossResult expected = oneShot.forwardBackward(a.batch(), a.grad);
        LossResult actual = phases.forwardBackward(b.batch(), b.grad, GroupSync.LOCAL);
        assertEquals(Float.floatToRawIntBits((float) expected.loss()), Float.floatToRawIntBits((float) actual.loss()));
        assertArrayEquals(expected.pairLosses(), actual.pairLosses(), 0f);
        assertArrayEquals(expected.chosenLogps(), actual.chosenLogps(), 0f);
        assertArrayEquals(expected.margins(), actual.margins(), 0f);
        assertArrayEquals(expected.groupLosses(), actual.groupLosses(), 0f);
        assertArrayEquals(expected.objectiveWeights(), actual.objectiveWeights(), 0f);
        assertArrayEquals(expected.groupCounts(), actual.groupCounts());
        assertArrayEquals(oneShot.state().logAlpha(), phases.state().logAlpha(), 0.0);
        assertEquals(-1L, a.grad.mismatch(b.grad), "gradient bytes");
      }
    }
  }

  @ParameterizedTest(name = "{0} {1} {2} {3}")
  @MethodSource("methods")
  void twoRanksWithSummedStatisticsAreTheWholeBatch(Backend backend, Weighting weighting,
                                                    GroupNormalization normalization, LossType lossType) {
    // Group 3 only on rank 1, group 0 only on rank 0: every rank misses a group.
    Rows rows = Rows.random(new Random(23), 8, 5, 61, new int[] {0, 1, 2, 0, 1, 2, 3, 3});
    Rows first = rows.shard(0, 4);
    Rows second = rows.shard(4, 4);
    try (HostBatch whole = rows.batch(); HostBatch a = first.batch(); HostBatch b = second.batch();
         GroupRobustLoss single = loss(backend, weighting, normalization, lossType);
         GroupRobustLoss rank0 = loss(backend, weighting, normalization, lossType);
         GroupRobustLoss rank1 = loss(backend, weighting, normalization, lossType)) {
      for (int step = 0; step < 3; step++) {
        LossResult expected = single.forwardBackward(whole.batch(), whole.grad);
        // The all-reduce: both ranks' statistics first, then each rank's group step on their sum.
        LossStatistics s0 = rank0.statistics(a.batch());
        LossStatistics s1 = rank1.statistics(b.batch());
        GroupStatistics sum = s0.groupStatistics().plus(s1.groupStatistics());
        GroupStep step0 = rank0.groupStep(sum, true);
        GroupStep step1 = rank1.groupStep(sum, true);
        rank0.gradient(s0, step0, a.grad);
        rank1.gradient(s1, step1, b.grad);
        String where = backend + " " + weighting + " " + normalization + " " + lossType + " step " + step;
        assertArrayEquals(rank0.state().logAlpha(), rank1.state().logAlpha(), 0.0, where + ": ranks' weights");
        assertArrayEquals(single.state().logAlpha(), rank0.state().logAlpha(), 1e-12, where + ": log alpha");
        assertEquals(expected.loss(), step0.objective(), 1e-6 * (1 + Math.abs(expected.loss())), where);
        assertArrayEquals(expected.groupLosses(), step0.groupLosses(), 1e-6f, where);
        assertArrayEquals(expected.objectiveWeights(), step1.objectiveWeights(), 1e-6f, where);
        assertArrayEquals(expected.groupCounts(), step0.groupCounts(), where);
        double[] wholeGrad = whole.read(whole.grad);
        double[] rank0Grad = a.read(a.grad);
        double[] rank1Grad = b.read(b.grad);
        int rowElements = rows.seqLen() * rows.vocab();
        for (int half = 0; half < 2; half++) {
          for (int e = 0; e < 4 * rowElements; e++) {
            double want0 = wholeGrad[half * 8 * rowElements + e];
            double want1 = wholeGrad[(half * 8 + 4) * rowElements + e];
            assertEquals(want0, rank0Grad[half * 4 * rowElements + e], 1e-7 + 1e-5 * Math.abs(want0), where);
            assertEquals(want1, rank1Grad[half * 4 * rowElements + e], 1e-7 + 1e-5 * Math.abs(want1), where);
          }
        }
      }
    }
  }

  @ParameterizedTest(name = "{0} {1} {2} {3}")
  @MethodSource("methods")
  void aScaledStepGivesTheScaledGradientAndTheSameOutputs(Backend backend, Weighting weighting,
                                                          GroupNormalization normalization, LossType lossType) {
    Rows rows = Rows.random(new Random(17), 6, 5, 41, new int[] {0, 1, 2, 0, 3, 0});
    try (HostBatch batch = rows.batch(); HostBatch half = rows.batch(); HostBatch third = rows.batch();
         GroupRobustLoss loss = loss(backend, weighting, normalization, lossType)) {
      LossStatistics statistics = loss.statistics(batch.batch());
      GroupStep step = loss.groupStep(statistics.groupStatistics(), false);
      loss.gradient(statistics, step, batch.grad);
      loss.gradient(statistics, step.scaled(0.5), half.grad);
      loss.gradient(statistics, step.scaled(1.0 / 3), third.grad);
      float[] whole = batch.grad.toArray(ValueLayout.JAVA_FLOAT);
      float[] halved = half.grad.toArray(ValueLayout.JAVA_FLOAT);
      float[] thirds = third.grad.toArray(ValueLayout.JAVA_FLOAT);
      double largest = 0;
      for (int e = 0; e < whole.length; e++) {
        assertEquals(whole[e] * 0.5f, halved[e], 0f, "a power of two scales exactly, element " + e);
        assertEquals(whole[e] / 3.0, thirds[e], 1e-6 * Math.abs(whole[e]) + 1e-12, "element " + e);
        largest = Math.max(largest, Math.abs(whole[e]));
      }
      assertTrue(largest > 0, "a gradient");
      LossResult plain = LossResult.of(statistics, step);
      LossResult scaled = LossResult.of(statistics, step.scaled(0.25));
      assertEquals(plain.loss(), scaled.loss(), 0.0, "the objective is the step's, unscaled");
      assertArrayEquals(plain.objectiveWeights(), scaled.objectiveWeights(), 0f);
      double[] coefficients = step.coefficients();
      double[] quartered = step.scaled(0.25).coefficients();
      for (int g = 0; g < coefficients.length; g++) {
        assertEquals(coefficients[g] * 0.25, quartered[g], 0.0);
      }
      assertThrows(IllegalArgumentException.class, () -> step.scaled(Double.NaN));
    }
  }

  @Test
  void accumulatedMicroBatchesUpdateTheWeightsOncePerStep() {
    Rows rows = Rows.random(new Random(5), 8, 4, 37, new int[] {0, 1, 2, 0, 1, 2, 3, 3});
    try (HostBatch whole = rows.batch(); HostBatch a = rows.shard(0, 4).batch(); HostBatch b = rows.shard(4, 4).batch();
         GroupRobustLoss single = loss(Backend.CPU, Weighting.ROBUST, GroupNormalization.BATCH_MEAN, LossType.DPO);
         GroupRobustLoss accumulated = loss(Backend.CPU, Weighting.ROBUST, GroupNormalization.BATCH_MEAN,
             LossType.DPO)) {
      double[] before = accumulated.state().logAlpha();
      GroupStatistics sum = GroupStatistics.empty(4);
      for (HostBatch micro : new HostBatch[] {a, b}) {
        LossStatistics s = accumulated.statistics(micro.batch());
        GroupStep step = accumulated.groupStep(s.groupStatistics(), false);
        accumulated.gradient(s, step, micro.grad);
        sum = sum.plus(s.groupStatistics());
        assertArrayEquals(before, accumulated.state().logAlpha(), 0.0, "no update inside the step");
      }
      accumulated.groupStep(sum, true);
      single.forwardBackward(whole.batch(), whole.grad);
      assertArrayEquals(single.state().logAlpha(), accumulated.state().logAlpha(), 1e-12);
      assertEquals(8, sum.pairs());
      assertEquals(1L, accumulated.state().steps());
    }
  }

  @Test
  void misuseIsRefusedWithAMessage() {
    Rows rows = Rows.random(new Random(3), 4, 3, 11, new int[] {0, 1, 0, 1});
    try (HostBatch a = rows.batch(); HostBatch b = rows.batch();
         GroupRobustLoss loss = loss(Backend.CPU, Weighting.ROBUST, GroupNormalization.BATCH_MEAN, LossType.DPO);
         GroupRobustLoss other = loss(Backend.CPU, Weighting.ROBUST, GroupNormalization.BATCH_MEAN, LossType.DPO)) {
      LossStatistics first = loss.statistics(a.batch());
      GroupStep step = loss.groupStep(first.groupStatistics(), true);
      loss.statistics(b.batch());
      IllegalStateException stale = assertThrows(IllegalStateException.class, () -> loss.gradient(first, step, a.grad));
      assertTrue(stale.getMessage().contains("before the next batch's statistics"), stale.getMessage());
      IllegalArgumentException foreign = assertThrows(IllegalArgumentException.class,
          () -> other.gradient(first, step, a.grad));
      assertTrue(foreign.getMessage().contains("another GroupRobustLoss"), foreign.getMessage());
      assertThrows(IllegalArgumentException.class, () -> loss.groupStep(GroupStatistics.empty(4), true));
      assertThrows(IllegalArgumentException.class, () -> loss.groupStep(GroupStatistics.empty(3), true));
      IllegalArgumentException fractional = assertThrows(IllegalArgumentException.class,
          () -> GroupStatistics.fromArray(1, new double[] {0.5, 1.5, 0, 0, 0, 0, 0}));
      assertTrue(fractional.getMessage().contains("whole number"), fractional.getMessage());
      MemorySegment grad = a.grad;
      assertThrows(NullPointerException.class, () -> loss.forwardBackward(a.batch(), grad, null));
    }
  }

  @Test
  void aStepThatDoesNotCoverTheBatchIsRefused() {
    Rows rows = Rows.random(new Random(4), 4, 3, 11, new int[] {0, 1, 0, 1});
    try (HostBatch a = rows.batch();
         GroupRobustLoss loss = loss(Backend.CPU, Weighting.ROBUST, GroupNormalization.BATCH_MEAN, LossType.DPO)) {
      double[] before = loss.state().logAlpha();
      // A GroupSync that loses this rank's pairs of group 0 would leave them without gradient.
      IllegalArgumentException lossySync = assertThrows(IllegalArgumentException.class,
          () -> loss.forwardBackward(a.batch(), a.grad, sums -> {
            sums[0] = 0;
            sums[1] = 0;
            sums[2] = 0;
            sums[3] = 0;
          }));
      assertTrue(lossySync.getMessage().contains("sync returned 0 pairs of group 0, fewer than this rank's batch "
          + "holds (2): GroupSync.allReduce must sum"), lossySync.getMessage());
      assertArrayEquals(before, loss.state().logAlpha(), 0.0, "no weight step on refused statistics");

      LossStatistics statistics = loss.statistics(a.batch());
      double[] onlyGroup1 = statistics.groupStatistics().toArray();
      java.util.Arrays.fill(onlyGroup1, 0, GroupStatistics.COLUMNS, 0);
      GroupStep partial = loss.groupStep(GroupStatistics.fromArray(4, onlyGroup1), false);
      IllegalArgumentException gradient = assertThrows(IllegalArgumentException.class,
          () -> loss.gradient(statistics, partial, a.grad));
      assertTrue(gradient.getMessage().contains("the group step counts 0 pairs of group 0 but the statistics alone "
          + "hold 2"), gradient.getMessage());
      assertThrows(IllegalArgumentException.class, () -> LossResult.of(statistics, partial));

      try (GroupRobustLoss threeGroups = GroupRobustLoss.builder().backend(Backend.CPU).groups(3).build()) {
        GroupStep otherK = threeGroups.groupStep(GroupStatistics.fromArray(3,
            new double[] {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), false);
        IllegalArgumentException k = assertThrows(IllegalArgumentException.class,
            () -> LossResult.of(statistics, otherK));
        assertTrue(k.getMessage().contains("the group step is of 3 groups but the statistics of 4"), k.getMessage());
      }
    }
  }

  @Test
  void statisticsWithMoreHitsThanPairsAreRefused() {
    IllegalArgumentException margins = assertThrows(IllegalArgumentException.class,
        () -> GroupStatistics.fromArray(1, new double[] {0.5, 1, 2, 0, 0, 0, 0}));
    assertTrue(margins.getMessage().contains("group 0 counts 2.0 pairs with a positive margin (column 2) among 1.0"),
        margins.getMessage());
    IllegalArgumentException logps = assertThrows(IllegalArgumentException.class,
        () -> GroupStatistics.fromArray(2, new double[] {0, 0, 0, 0, 0, 0, 0, 0.5, 3, 1, -1, 0, 0, 0}));
    assertTrue(logps.getMessage().contains("group 1 counts -1.0 pairs with s_w > s_l"), logps.getMessage());
    assertEquals(3, GroupStatistics.fromArray(1, new double[] {0.5, 3, 3, 0, 1, 2, 3}).pairs());
  }
}
