package dev.grpo4j;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.grpo4j.ffm.DeviceMemory;
import dev.grpo4j.testing.Close;
import dev.grpo4j.testing.TestSeed;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CUDA backend through the Java API on device memory, against the double-precision REFERENCE backend on the
 * host. Skipped without a GPU.
 */
class CudaBackendTest {
  @BeforeAll
  static void requireDevice() {
    Assumptions.assumeTrue(GroupRobustLoss.cudaAvailable(), "no CUDA device here");
  }

  private record Device(DeviceMemory logits, DeviceMemory labels, DeviceMemory ref, DeviceMemory groups,
                        DeviceMemory grad) implements AutoCloseable {
    static Device of(HostBatch b) {
      return new Device(DeviceMemory.copyOf(b.logits), DeviceMemory.copyOf(b.labels), DeviceMemory.copyOf(b.refLogps),
          DeviceMemory.copyOf(b.groupIds), DeviceMemory.copyOf(b.grad));
    }

    PreferenceBatch batch(HostBatch b) {
      TokenLogits tokens = new TokenLogits(logits.segment(), b.logitsType, labels.segment(), b.labelType, 2 * b.pairs,
          b.seqLen, b.vocab);
      return new PreferenceBatch(tokens, ref.segment(), groups.segment());
    }

    @Override
    public void close() {
      for (DeviceMemory m : new DeviceMemory[] {logits, labels, ref, groups, grad}) {
        m.close();
      }
    }
  }

  @Test
  void matchesReferenceForEveryConfigAndType() {
    long seed = TestSeed.get();
    for (GroupRobustLossTest.Config base : GroupRobustLossTest.configs()) {
      for (LogitsType type : LogitsType.values()) {
        Random rng = new Random(seed ^ base.hashCode() ^ type.ordinal());
        GroupRobustLossTest.Shape shape = new GroupRobustLossTest.Shape(4, 9, 1001, 3, 1, 2, 1);
        GroupRobustLossTest.Config c = GroupRobustLossTest.withGroups(base, 3,
            GroupRobustLossTest.randomSizes(rng, 3));
        try (HostBatch host = HostBatch.random(rng, 4, 9, 1001, 3, type, LabelType.I64, 1, 0.2, 1, 2);
             Device device = Device.of(host);
             GroupRobustLoss loss = GroupRobustLossTest.build(c, Backend.CUDA, 0);
             GroupRobustLoss reference = GroupRobustLossTest.build(c, Backend.REFERENCE, 1)) {
          MemorySegment referenceGrad = host.logitsCopy();
          LossResult want = reference.forwardBackward(host.batch(), referenceGrad);
          LossResult got = loss.forwardBackward(device.batch(host), device.grad().segment());
          String where = "CUDA " + type + " " + c + " " + TestSeed.describe(seed);
          GroupRobustLossTest.compare(where, c, shape, type, got, want);
          Close.assertClose(where + " log alpha", loss.state().logAlpha(), reference.state().logAlpha(), 1e-7, 1e-5);
          device.grad().copyTo(host.grad);
          double rtol = type == LogitsType.F32 ? 1e-5 : type == LogitsType.F16 ? 2e-3 : 1e-2;
          double[] wantGrad = host.read(referenceGrad);
          Close.assertClose(where + " grad", host.read(host.grad), wantGrad, rtol * Close.maxAbs(wantGrad), rtol);
        }
      }
    }
  }

  @Test
  void phasesOnTheDeviceAreTheOneShotCallBitForBit() {
    for (Weighting weighting : Weighting.values()) {
      for (GroupNormalization normalization : GroupNormalization.values()) {
        Random rng = new Random(31 + 7L * weighting.ordinal() + normalization.ordinal());
        try (HostBatch host = HostBatch.random(rng, 6, 7, 301, 3, LogitsType.F32, LabelType.I64, 1, 0.2, 1, 2);
             HostBatch gradBuffer = HostBatch.random(new Random(0), 6, 7, 301, 3, LogitsType.F32, LabelType.I64, 1,
                 0.2, 1, 2);
             Device device = Device.of(host);
             DeviceMemory phaseGrad = DeviceMemory.copyOf(host.grad);
             GroupRobustLoss oneShot = phaseLoss(weighting, normalization);
             GroupRobustLoss phases = phaseLoss(weighting, normalization)) {
          String where = "CUDA phases " + weighting + " " + normalization;
          for (int step = 0; step < 2; step++) {
            LossResult want = oneShot.forwardBackward(device.batch(host), device.grad().segment());
            LossResult got = phases.forwardBackward(device.batch(host), phaseGrad.segment(), GroupSync.LOCAL);
            assertEquals(Float.floatToRawIntBits((float) want.loss()), Float.floatToRawIntBits((float) got.loss()),
                where + ": loss bits");
            assertArrayEquals(want.groupLosses(), got.groupLosses(), 0f, where);
            assertArrayEquals(want.objectiveWeights(), got.objectiveWeights(), 0f, where);
            assertArrayEquals(oneShot.state().logAlpha(), phases.state().logAlpha(), 0.0, where);
            device.grad().copyTo(host.grad);
            phaseGrad.copyTo(gradBuffer.grad);
            assertEquals(-1L, host.grad.mismatch(gradBuffer.grad), where + ": gradient bytes");
          }
        }
      }
    }
  }

  private static GroupRobustLoss phaseLoss(Weighting weighting, GroupNormalization normalization) {
    return GroupRobustLoss.builder().backend(Backend.CUDA).beta(0.3).weighting(weighting)
        .groupNormalization(normalization).groups(3).groupSizes(40, 7, 19).eta(0.8).chi(0.9).adjustment(0.2).build();
  }

  @Test
  void inPlaceEvaluateAndSequenceLogProbs() {
    Random rng = new Random(11);
    try (HostBatch host = HostBatch.random(rng, 3, 5, 257, 2, LogitsType.BF16, LabelType.I32, 1, 0.1, -1, -1);
         Device device = Device.of(host);
         GroupRobustLoss cuda = GroupRobustLoss.builder().groups(2).eta(0.3).backend(Backend.CUDA).build();
         GroupRobustLoss cpu = GroupRobustLoss.builder().groups(2).eta(0.3).build()) {
      SequenceLogProbs onDevice = SequenceLogProbs.compute(device.batch(host).tokens(), Backend.CUDA);
      SequenceLogProbs onHost = SequenceLogProbs.compute(host.tokens(host.logits), Backend.CPU);
      assertArrayEquals(onHost.logProbs(), onDevice.logProbs(), 1e-4f);
      assertArrayEquals(onHost.tokenCounts(), onDevice.tokenCounts());
      LossResult evalCuda = cuda.evaluate(device.batch(host));
      assertEquals(cpu.evaluate(host.batch()).loss(), evalCuda.loss(), 1e-5);
      LossResult inPlace = cuda.forwardBackward(device.batch(host), device.logits().segment());
      LossResult reference = cpu.forwardBackward(host.batch(), host.grad);
      assertEquals(reference.loss(), inPlace.loss(), 1e-5);
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment back = arena.allocate(host.logits.byteSize());
        device.logits().copyTo(back);
        Close.assertClose("in-place CUDA grad", host.read(back), host.read(host.grad), 1e-2, 1e-2);
      }
    }
  }

  /**
   * The fused LM head's route on the device: token log-probs into softmax statistics in device memory, sequence
   * statistics, group step, dJ/ds per row, token gradient into device memory; equal to the logits route on the device.
   */
  @Test
  void sequenceRouteOnTheDeviceIsTheLogitsRoute() {
    for (Weighting weighting : Weighting.values()) {
      int pairs = 4;
      int seqLen = 5;
      int vocab = 263;
      try (HostBatch host = HostBatch.random(new Random(41 + weighting.ordinal()), pairs, seqLen, vocab, 3,
          LogitsType.F32, LabelType.I64, 1, 0.3, 1, 2);
           Device device = Device.of(host);
           Arena arena = Arena.ofConfined()) {
        int positions = 2 * pairs * seqLen;
        try (DeviceMemory statistics = DeviceMemory.copyOf(arena.allocate(TokenPasses.statisticsBytes(positions), 16));
             DeviceMemory grad = DeviceMemory.copyOf(host.grad);
             GroupRobustLoss logitsLoss = phaseLoss(weighting, GroupNormalization.BATCH_MEAN);
             GroupRobustLoss sequenceLoss = phaseLoss(weighting, GroupNormalization.BATCH_MEAN)) {
          TokenLogits tokens = device.batch(host).tokens();
          long[] labels = host.labels.toArray(JAVA_LONG);
          int[] groups = host.groupIds.toArray(java.lang.foreign.ValueLayout.JAVA_INT);
          float[] ref = host.refLogps.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
          for (int step = 0; step < 2; step++) {
            String where = "CUDA sequence route " + weighting + " step " + step;
            LossResult want = logitsLoss.forwardBackward(device.batch(host), device.grad().segment());
            float[] tokenLogps = TokenPasses.logProbs(tokens, statistics.segment(), Backend.CUDA, 1, 0);
            float[] rowLogps = new float[2 * pairs];
            int[] counts = new int[2 * pairs];
            for (int p = 0; p < positions; p++) {
              if (labels[p] != TokenLogits.IGNORE_INDEX) {
                rowLogps[p / seqLen] += tokenLogps[p];
                counts[p / seqLen]++;
              }
            }
            LossStatistics local = sequenceLoss.statistics(new SequenceBatch(rowLogps, counts, ref, groups));
            GroupStep groupStep = sequenceLoss.groupStep(local.groupStatistics(), true);
            float[] rowCoef = sequenceLoss.sequenceGradient(local, groupStep);
            float[] perPosition = new float[positions];
            for (int p = 0; p < positions; p++) {
              perPosition[p] = rowCoef[p / seqLen];
            }
            TokenPasses.gradient(tokens, statistics.segment(), perPosition, grad.segment(), Backend.CUDA, 1, 0);
            // The same with the coefficients in device memory: written there, and read from there.
            try (DeviceMemory rowCoefficients = DeviceMemory.copyOf(arena.allocate(4L * rowCoef.length, 4));
                 DeviceMemory coefficients = DeviceMemory.copyOf(
                     arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_FLOAT, perPosition));
                 DeviceMemory gradFromDevice = DeviceMemory.copyOf(host.grad)) {
              sequenceLoss.sequenceGradient(local, groupStep, rowCoefficients.segment());
              MemorySegment rowsBack = arena.allocate(4L * rowCoef.length, 4);
              rowCoefficients.copyTo(rowsBack);
              assertArrayEquals(rowCoef, rowsBack.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT), 0f,
                  where + ": row coefficients on the device");
              TokenPasses.gradient(tokens, statistics.segment(), coefficients.segment(), gradFromDevice.segment(),
                  Backend.CUDA, 1, 0);
              MemorySegment a = arena.allocate(host.grad.byteSize());
              MemorySegment b = arena.allocate(host.grad.byteSize());
              grad.copyTo(a);
              gradFromDevice.copyTo(b);
              assertEquals(-1L, a.mismatch(b), where + ": the gradient from coefficients on the device");
            }
            LossResult got = LossResult.of(local, groupStep);
            assertEquals(want.loss(), got.loss(), 1e-6 + 1e-5 * Math.abs(want.loss()), where + ": loss");
            assertArrayEquals(want.objectiveWeights(), got.objectiveWeights(), 1e-5f, where + ": weights");
            Close.assertClose(where + ": log alpha", sequenceLoss.state().logAlpha(), logitsLoss.state().logAlpha(),
                1e-7, 1e-5);
            MemorySegment wantGrad = arena.allocate(host.grad.byteSize());
            MemorySegment gotGrad = arena.allocate(host.grad.byteSize());
            device.grad().copyTo(wantGrad);
            grad.copyTo(gotGrad);
            double[] expected = host.read(wantGrad);
            Close.assertClose(where + ": grad", host.read(gotGrad), expected, 1e-7 + 1e-5 * Close.maxAbs(expected),
                1e-5);
          }
        }
      }
    }
  }

  @Test
  void badLabelsOnTheDeviceRaiseAndLeaveWeightsAlone() {
    Random rng = new Random(12);
    try (HostBatch host = HostBatch.random(rng, 2, 3, 17, 2, LogitsType.F32, LabelType.I64, 1, 0, -1, -1)) {
      host.labels.setAtIndex(JAVA_LONG, 4, 17);
      try (Device device = Device.of(host);
           GroupRobustLoss loss = GroupRobustLoss.builder().groups(2).eta(0.3).backend(Backend.CUDA).build()) {
        GroupWeightState before = loss.state();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> loss.forwardBackward(device.batch(host), device.grad().segment()));
        assertEquals(true, e.getMessage().contains("labels"), e.getMessage());
        assertEquals(before, loss.state());
      }
    }
  }

  @Test
  void anF16GradientBeyondItsRangeIsRefused() {
    try (HostBatch host = HostBatch.random(new Random(13), 3, 4, 9, 2, LogitsType.F16, LabelType.I64, 1, 0, -1, -1);
         Device device = Device.of(host);
         GroupRobustLoss loss = GroupRobustLoss.builder().groups(2).lossType(LossType.IPO).beta(1e-7)
             .backend(Backend.CUDA).build()) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> loss.forwardBackward(device.batch(host), device.grad().segment()));
      assertEquals(true, e.getMessage().contains("does not fit f16"), e.getMessage());
      assertEquals(GroupWeightState.uniform(2), loss.state());
    }
  }
}
