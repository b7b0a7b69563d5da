package dev.grpo4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.testing.Close;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fused LM head's route through the loss: token log-probs of the logits, summed per row into a
 * {@link SequenceBatch}, sequence statistics, group step, {@code dJ/ds} per row, token gradient. It must give what the
 * logits route gives: objective, group losses and weights, log alpha and dJ/dlogits.
 */
class TokenPassesTest {
  private static GroupRobustLoss loss(Backend backend, Weighting weighting, GroupNormalization normalization,
                                      LossType lossType) {
    return GroupRobustLoss.builder().backend(backend).lossType(lossType).beta(0.3).weighting(weighting)
        .groupNormalization(normalization).groups(4).groupSizes(40, 7, 19, 3).eta(0.8).chi(0.9).adjustment(0.2)
        .ipoLengthNormalization(lossType == LossType.IPO).threads(2).build();
  }

  @ParameterizedTest(name = "{0} {1} {2} {3}")
  @MethodSource("dev.grpo4j.GroupRobustLossPhasesTest#methods")
  void sequenceRouteIsTheLogitsRoute(Backend backend, Weighting weighting, GroupNormalization normalization,
                                     LossType lossType) {
    int pairs = 5;
    int seqLen = 6;
    int vocab = 41;
    try (HostBatch host = HostBatch.random(new Random(5), pairs, seqLen, vocab, 4, LogitsType.F32, LabelType.I64, 2,
        0.3, 1, 3);
         GroupRobustLoss logitsLoss = loss(backend, weighting, normalization, lossType);
         GroupRobustLoss sequenceLoss = loss(backend, weighting, normalization, lossType);
         Arena arena = Arena.ofConfined()) {
      int[] groups = host.groupIds.toArray(java.lang.foreign.ValueLayout.JAVA_INT);
      MemorySegment logitsGrad = host.logitsCopy();
      String where = backend + " " + weighting + " " + normalization + " " + lossType;
      for (int step = 0; step < 3; step++) {
        LossResult want = logitsLoss.forwardBackward(host.batch(), logitsGrad);
        TokenLogits tokens = host.batch().tokens();
        int positions = 2 * pairs * seqLen;
        MemorySegment statistics = arena.allocate(TokenPasses.statisticsBytes(positions), 16);
        float[] tokenLogps = TokenPasses.logProbs(tokens, statistics, backend, 2, 0);
        long[] labels = host.labels.toArray(java.lang.foreign.ValueLayout.JAVA_LONG);
        float[] rowLogps = new float[2 * pairs];
        int[] counts = new int[2 * pairs];
        for (int r = 0; r < 2 * pairs; r++) {
          double sum = 0;
          for (int t = 0; t < seqLen; t++) {
            int p = r * seqLen + t;
            if (labels[p] == TokenLogits.IGNORE_INDEX) {
              assertEquals(0f, tokenLogps[p], where + ": a masked position's log-prob");
            } else {
              sum += tokenLogps[p];
              counts[r]++;
            }
          }
          rowLogps[r] = (float) sum;
        }
        float[] ref = host.refLogps.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
        LossStatistics statistics1 = sequenceLoss.statistics(new SequenceBatch(rowLogps, counts, ref, groups));
        GroupStep groupStep = sequenceLoss.groupStep(statistics1.groupStatistics(), true);
        float[] rowCoef = sequenceLoss.sequenceGradient(statistics1, groupStep);
        assertPairLocal(sequenceLoss, statistics1, groupStep, rowLogps, counts, ref, groups, rowCoef, where);
        float[] perPosition = new float[positions];
        for (int p = 0; p < positions; p++) {
          perPosition[p] = rowCoef[p / seqLen];
        }
        MemorySegment grad = arena.allocate(tokens.logitsBytes(), 4);
        TokenPasses.gradient(tokens, statistics, perPosition, grad, backend, 2, 0);
        // The same through backend memory: the row coefficients written there, the per-position ones read from there.
        MemorySegment rowCoefficients = arena.allocate(4L * rowCoef.length, 4);
        sequenceLoss.sequenceGradient(statistics1, groupStep, rowCoefficients);
        assertArrayEquals(rowCoef, rowCoefficients.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT), 0f,
            where + ": row coefficients in memory");
        MemorySegment coefficients = arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_FLOAT, perPosition);
        MemorySegment gradFromMemory = arena.allocate(tokens.logitsBytes(), 4);
        TokenPasses.gradient(tokens, statistics, coefficients, gradFromMemory, backend, 2, 0);
        assertEquals(-1L, grad.mismatch(gradFromMemory), where + ": the gradient from coefficients in memory");

        LossResult got = LossResult.of(statistics1, groupStep);
        String at = where + " step " + step;
        assertEquals(want.loss(), got.loss(), 1e-6 + 1e-5 * Math.abs(want.loss()), at + ": loss");
        Close.assertClose(at + " group losses", toDoubles(got.groupLosses()), toDoubles(want.groupLosses()), 1e-6,
            1e-5);
        Close.assertClose(at + " weights", toDoubles(got.objectiveWeights()), toDoubles(want.objectiveWeights()), 1e-7,
            1e-5);
        Close.assertClose(at + " log alpha", sequenceLoss.state().logAlpha(), logitsLoss.state().logAlpha(), 1e-7,
            1e-5);
        double[] wantGrad = host.read(logitsGrad);
        Close.assertClose(at + " grad", host.read(grad), wantGrad, 1e-7 + 1e-5 * Close.maxAbs(wantGrad), 1e-5);
      }
    }
  }

  /**
   * dl/ds of each row as the whole batch's statistics give it equals what statistics of its pair alone give, and
   * times the group coefficient it is the row coefficient {@code sequenceGradient} returned.
   */
  private static void assertPairLocal(GroupRobustLoss loss, LossStatistics whole, GroupStep step, float[] rowLogps,
                                      int[] counts, float[] ref, int[] groups, float[] rowCoef, String where) {
    double[] all = whole.pairLossGradients();
    double[] coefficients = step.coefficients();
    int pairs = groups.length;
    for (int i = 0; i < pairs; i++) {
      int[] rows = {i, pairs + i};
      float[] logps = new float[2];
      int[] pairCounts = new int[2];
      float[] pairRef = new float[2];
      for (int k = 0; k < 2; k++) {
        logps[k] = rowLogps[rows[k]];
        pairCounts[k] = counts[rows[k]];
        pairRef[k] = ref[rows[k]];
      }
      double[] alone = loss.statistics(new SequenceBatch(logps, pairCounts, pairRef, new int[] {groups[i]}))
          .pairLossGradients();
      for (int k = 0; k < 2; k++) {
        assertEquals(all[rows[k]], alone[k], 0.0, where + ": dl/ds of row " + rows[k] + " alone and in the batch");
        assertEquals(rowCoef[rows[k]], (float) (coefficients[groups[i]] * all[rows[k]]), 0.0,
            where + ": row " + rows[k] + "'s coefficient is its group's times dl/ds");
      }
    }
  }

  private static double[] toDoubles(float[] values) {
    double[] out = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = values[i];
    }
    return out;
  }

  @Test
  void misuseIsRefusedWithAMessage() {
    try (HostBatch host = HostBatch.random(new Random(9), 2, 3, 11, 2, LogitsType.F32, LabelType.I64, 1, 0.0, -1, -1);
         GroupRobustLoss loss = loss(Backend.CPU, Weighting.ROBUST, GroupNormalization.BATCH_MEAN, LossType.DPO);
         Arena arena = Arena.ofConfined()) {
      TokenLogits tokens = host.batch().tokens();
      MemorySegment small = arena.allocate(8, 16);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> TokenPasses.logProbs(tokens, small, Backend.CPU, 1, 0));
      assertTrue(e.getMessage().contains("statistics"), e.getMessage());
      MemorySegment statistics = arena.allocate(TokenPasses.statisticsBytes(12), 16);
      TokenPasses.logProbs(tokens, statistics, Backend.CPU, 1, 0);
      float[] coefficients = new float[12];
      coefficients[4] = Float.NaN;
      assertThrows(NonFiniteInputException.class,
          () -> TokenPasses.gradient(tokens, statistics, coefficients, host.grad, Backend.CPU, 1, 0));
      e = assertThrows(IllegalArgumentException.class,
          () -> TokenPasses.gradient(tokens, statistics, new float[3], host.grad, Backend.CPU, 1, 0));
      assertTrue(e.getMessage().contains("one per position"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class,
          () -> new SequenceBatch(new float[3], null, new float[4], new int[2]));
      assertTrue(e.getMessage().contains("logProbs"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class,
          () -> new SequenceBatch(new float[] {-1, -2, -0.5f, -3}, new int[] {1, 2, 0, 3}, new float[4], new int[2]));
      assertTrue(e.getMessage().contains("row 2 has tokenCounts[2] = 0 but logProbs[2] = -0.5"), e.getMessage());
      new SequenceBatch(new float[] {-1, -2, 0, -3}, new int[] {1, 2, 0, 3}, new float[4], new int[2]);
      e = assertThrows(IllegalArgumentException.class,
          () -> loss.statistics(new SequenceBatch(new float[4], null, new float[4], new int[] {0, 5})));
      assertTrue(e.getMessage().contains("groupIds[1] = 5"), e.getMessage());
      assertThrows(NonFiniteInputException.class, () -> loss.statistics(
          new SequenceBatch(new float[] {-1, Float.NaN, -2, -3}, null, new float[4], new int[] {0, 1})));
      LossStatistics fromLogits = loss.statistics(host.batch());
      GroupStep step = loss.groupStep(fromLogits.groupStatistics(), false);
      e = assertThrows(IllegalArgumentException.class, () -> loss.sequenceGradient(fromLogits, step));
      assertTrue(e.getMessage().contains("gradient(...)"), e.getMessage());
      IllegalStateException noDloss = assertThrows(IllegalStateException.class, fromLogits::pairLossGradients);
      assertTrue(noDloss.getMessage().contains("SequenceBatch"), noDloss.getMessage());
      LossStatistics fromSequences = loss.statistics(
          new SequenceBatch(new float[] {-1, -2, -2, -3}, null, new float[4], new int[] {0, 1}));
      e = assertThrows(IllegalArgumentException.class, () -> loss.gradient(fromSequences, step, host.grad));
      assertTrue(e.getMessage().contains("sequenceGradient"), e.getMessage());
    }
  }
}
