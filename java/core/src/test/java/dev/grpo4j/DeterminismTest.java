package dev.grpo4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.grpo4j.testing.TestSeed;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Same inputs give bit-identical outputs on every run and for every thread count. */
class DeterminismTest {
  @Test
  void runsAndThreadCountsAreBitIdentical() {
    long seed = TestSeed.get();
    for (LogitsType type : LogitsType.values()) {
      try (HostBatch batch = HostBatch.random(new Random(seed), 5, 33, 1001, 3, type, LabelType.I64, 2, 0.2, 1, -1)) {
        MemorySegment firstGrad = null;
        LossResult first = null;
        for (int threads : new int[] {1, 2, 3, 1, 8}) {
          try (GroupRobustLoss loss = GroupRobustLoss.builder().beta(0.2).eta(0.7).groups(3).threads(threads)
              .build()) {
            LossResult r = loss.forwardBackward(batch.batch(), batch.grad);
            MemorySegment grad = batch.arena.allocate(batch.grad.byteSize());
            grad.copyFrom(batch.grad);
            if (first == null) {
              first = r;
              firstGrad = grad;
              continue;
            }
            String where = type + " threads " + threads + " " + TestSeed.describe(seed);
            assertEquals(-1L, firstGrad.mismatch(grad), where + ": gradient bytes differ");
            assertEquals(Float.floatToRawIntBits((float) first.loss()), Float.floatToRawIntBits((float) r.loss()),
                where);
            assertArrayEquals(first.chosenLogps(), r.chosenLogps(), 0f, where);
            assertArrayEquals(first.rejectedLogps(), r.rejectedLogps(), 0f, where);
            assertArrayEquals(first.pairLosses(), r.pairLosses(), 0f, where);
            assertArrayEquals(first.groupLosses(), r.groupLosses(), 0f, where);
            assertArrayEquals(first.objectiveWeights(), r.objectiveWeights(), 0f, where);
          }
        }
      }
    }
  }
}
