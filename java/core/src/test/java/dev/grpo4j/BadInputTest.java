package dev.grpo4j;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Bad inputs raise an exception whose message names the argument; the JVM never crashes, and a rejected
 * training call leaves the group weights and the gradient buffer untouched.
 */
class BadInputTest {
  private static <T extends Throwable> void assertRejected(Class<T> type, String mentions, Executable call) {
    T e = assertThrows(type, call);
    assertTrue(e.getMessage().contains(mentions), "message should name '" + mentions + "': " + e.getMessage());
  }

  private static GroupRobustLoss.Builder valid() {
    return GroupRobustLoss.builder().groups(2).eta(0.5).threads(1);
  }

  @Test
  void builderRejectsBadOptions() {
    assertRejected(IllegalArgumentException.class, "beta", () -> valid().beta(-1).build());
    assertRejected(IllegalArgumentException.class, "beta", () -> valid().beta(Double.NaN).build());
    assertRejected(IllegalArgumentException.class, "chi", () -> valid().chi(2).build());
    assertRejected(IllegalArgumentException.class, "eta", () -> valid().eta(-0.1).build());
    assertRejected(IllegalArgumentException.class, "labelSmoothing", () -> valid().labelSmoothing(0.6).build());
    assertRejected(IllegalArgumentException.class, "labelSmoothing",
        () -> valid().lossType(LossType.IPO).labelSmoothing(0.1).build());
    assertRejected(IllegalArgumentException.class, "groups", () -> GroupRobustLoss.builder().build());
    assertRejected(IllegalArgumentException.class, "groupSizes[1]", () -> valid().groupSizes(5, 0).build());
    assertRejected(IllegalArgumentException.class, "groupSizes",
        () -> valid().groupNormalization(GroupNormalization.DATASET_FREQUENCY).build());
    assertRejected(IllegalArgumentException.class, "groupSizes",
        () -> valid().weighting(Weighting.IMPORTANCE_SAMPLING).build());
    assertRejected(IllegalArgumentException.class, "groupSizes", () -> valid().groups(3).groupSizes(1, 2).build());
    assertRejected(IllegalArgumentException.class, "threads", () -> valid().threads(-2).build());
  }

  @Test
  void shapesAreCheckedWhenBuilt() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment any = arena.allocate(64);
      assertRejected(IllegalArgumentException.class, "vocab",
          () -> new TokenLogits(any, LogitsType.F32, any, LabelType.I32, 2, 1, 0));
      assertRejected(IllegalArgumentException.class, "seqLen",
          () -> new TokenLogits(any, LogitsType.F32, any, LabelType.I32, 2, 0, 3));
      assertRejected(IllegalArgumentException.class, "labels is null",
          () -> new TokenLogits(any, LogitsType.F32, null, LabelType.I32, 2, 1, 3));
      TokenLogits odd = new TokenLogits(any, LogitsType.F32, any, LabelType.I32, 3, 1, 3);
      assertRejected(IllegalArgumentException.class, "tokens.rows", () -> new PreferenceBatch(odd, any, any));
    }
  }

  /** Runs {@code call} on a fresh valid batch after {@code spoil} damaged it; checks nothing else changed. */
  private static void assertCallRejected(Class<? extends Throwable> type, String mentions, Consumer<HostBatch> spoil,
                                         java.util.function.BiConsumer<GroupRobustLoss, HostBatch> call) {
    try (HostBatch batch = HostBatch.random(new Random(3), 3, 4, 9, 2, LogitsType.F32, LabelType.I64, 1, 0, -1, -1);
         GroupRobustLoss loss = valid().build()) {
      loss.forwardBackward(batch.batch(), batch.grad);
      GroupWeightState before = loss.state();
      batch.grad.fill((byte) 0x5a);
      spoil.accept(batch);
      assertRejected(type, mentions, () -> call.accept(loss, batch));
      assertEquals(before, loss.state(), "a rejected call must not move the group weights");
      for (long i = 0; i < batch.grad.byteSize(); i++) {
        if (batch.grad.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) != 0x5a) {
          throw new AssertionError("a rejected call wrote into the gradient buffer at byte " + i);
        }
      }
      // The loss still works afterwards.
      try (HostBatch good = HostBatch.random(new Random(4), 3, 4, 9, 2, LogitsType.F32, LabelType.I64, 1, 0, -1, -1)) {
        assertTrue(Double.isFinite(loss.forwardBackward(good.batch(), good.grad).loss()));
      }
    }
  }

  private static void train(GroupRobustLoss loss, HostBatch batch) {
    loss.forwardBackward(batch.batch(), batch.grad);
  }

  @Test
  void labelAtLeastVocab() {
    assertCallRejected(IllegalArgumentException.class, "labels[4][1] = 9",
        b -> b.labels.setAtIndex(JAVA_LONG, 4 * 4 + 1, 9), BadInputTest::train);
  }

  @Test
  void negativeLabelOtherThanIgnoreIndex() {
    assertCallRejected(IllegalArgumentException.class, "labels[0][2] = -5",
        b -> b.labels.setAtIndex(JAVA_LONG, 2, -5), BadInputTest::train);
  }

  @Test
  void groupIdAtLeastK() {
    assertCallRejected(IllegalArgumentException.class, "group_ids[1] = 2",
        b -> b.groupIds.setAtIndex(JAVA_INT, 1, 2), BadInputTest::train);
  }

  @Test
  void negativeGroupId() {
    assertCallRejected(IllegalArgumentException.class, "group_ids[2] = -1",
        b -> b.groupIds.setAtIndex(JAVA_INT, 2, -1), BadInputTest::train);
  }

  @Test
  void nanInLogits() {
    assertCallRejected(NonFiniteInputException.class, "logits[2][3]",
        b -> b.logits.setAtIndex(JAVA_FLOAT, (2 * 4 + 3) * 9 + 5, Float.NaN), BadInputTest::train);
  }

  @Test
  void infinityInLogits() {
    assertCallRejected(NonFiniteInputException.class, "NaN or infinity",
        b -> b.logits.setAtIndex(JAVA_FLOAT, 7, Float.POSITIVE_INFINITY), BadInputTest::train);
  }

  @Test
  void nanInReferenceLogProbs() {
    assertCallRejected(NonFiniteInputException.class, "ref_logps[3]",
        b -> b.refLogps.setAtIndex(JAVA_FLOAT, 3, Float.NaN), BadInputTest::train);
  }

  @Test
  void logitsSegmentTooSmall() {
    assertCallRejected(IllegalArgumentException.class, "logits holds", b -> { },
        (loss, b) -> loss.forwardBackward(new PreferenceBatch(b.tokens(b.logits.asSlice(0, 100)), b.refLogps,
            b.groupIds), b.grad));
  }

  @Test
  void gradientTooSmall() {
    assertCallRejected(IllegalArgumentException.class, "grad holds", b -> { },
        (loss, b) -> loss.forwardBackward(b.batch(), b.grad.asSlice(0, 16)));
  }

  @Test
  void misalignedSegment() {
    assertCallRejected(IllegalArgumentException.class, "not aligned", b -> { },
        (loss, b) -> loss.forwardBackward(new PreferenceBatch(b.tokens(b.logits), b.refLogps,
            b.arena.allocate(64, 8).asSlice(2, 32)), b.grad));
  }

  @Test
  void heapSegment() {
    assertCallRejected(IllegalArgumentException.class, "heap segment", b -> { },
        (loss, b) -> loss.forwardBackward(new PreferenceBatch(b.tokens(b.logits),
            MemorySegment.ofArray(new float[6]), b.groupIds), b.grad));
  }

  @Test
  void closedArena() {
    Arena arena = Arena.ofConfined();
    MemorySegment groups = arena.allocate(JAVA_INT, 3);
    arena.close();
    assertCallRejected(IllegalArgumentException.class, "closed arena", b -> { },
        (loss, b) -> loss.forwardBackward(new PreferenceBatch(b.tokens(b.logits), b.refLogps, groups), b.grad));
  }

  @Test
  void labelsTooShortForShape() {
    assertCallRejected(IllegalArgumentException.class, "labels holds", b -> { },
        (loss, b) -> loss.forwardBackward(new PreferenceBatch(new TokenLogits(b.logits, LogitsType.F32,
            b.labels.asSlice(0, 8), LabelType.I64, 6, 4, 9), b.refLogps, b.groupIds), b.grad));
  }

  @Test
  void evaluateRejectsBadLabelsToo() {
    assertCallRejected(IllegalArgumentException.class, "labels[0][0] = 1000",
        b -> b.labels.setAtIndex(JAVA_LONG, 0, 1000), (loss, b) -> loss.evaluate(b.batch()));
  }

  @Test
  void stateOfWrongSize() {
    try (GroupRobustLoss loss = valid().build()) {
      assertRejected(IllegalArgumentException.class, "groups", () -> loss.restoreState(GroupWeightState.uniform(3)));
      assertRejected(IllegalArgumentException.class, "logAlpha[1]",
          () -> loss.restoreState(new GroupWeightState(new double[] {0, Double.NaN}, 0)));
    }
  }

  @Test
  void closedLoss() {
    GroupRobustLoss loss = valid().build();
    loss.close();
    try (HostBatch batch = HostBatch.random(new Random(5), 1, 1, 3, 2, LogitsType.F32, LabelType.I32, 1, 0, -1, -1)) {
      assertRejected(IllegalStateException.class, "closed", () -> loss.evaluate(batch.batch()));
    }
  }

  @Test
  void cudaWithoutDevice() {
    Assumptions.assumeFalse(GroupRobustLoss.cudaAvailable(), "a CUDA device is present");
    assertRejected(IllegalStateException.class, "CUDA", () -> valid().backend(Backend.CUDA).build());
    try (HostBatch batch = HostBatch.random(new Random(6), 1, 1, 3, 1, LogitsType.F32, LabelType.I32, 1, 0, -1, -1)) {
      assertRejected(IllegalStateException.class, "CUDA",
          () -> SequenceLogProbs.compute(batch.tokens(batch.logits), Backend.CUDA));
    }
  }

  @Test
  void maskedPositionsMayHoldAnything() {
    // Not an error: a NaN at a masked position never enters the loss, and its gradient is zero.
    try (HostBatch batch = HostBatch.random(new Random(8), 2, 3, 5, 1, LogitsType.F32, LabelType.I32, 1, 0, 1, -1);
         GroupRobustLoss loss = GroupRobustLoss.builder().groups(1).threads(1).build()) {
      batch.logits.setAtIndex(JAVA_FLOAT, 3 * 5 + 2, Float.NaN);
      LossResult r = loss.forwardBackward(batch.batch(), batch.grad);
      assertTrue(Double.isFinite(r.loss()));
      float[] maskedRowGrad = batch.grad.asSlice(3 * 5 * 4L, 3 * 5 * 4L).toArray(JAVA_FLOAT);
      assertArrayEquals(new float[15], maskedRowGrad);
    }
  }
}
