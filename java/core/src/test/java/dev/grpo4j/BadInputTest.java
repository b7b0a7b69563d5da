package dev.grpo4j;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

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
            b.arena.allocate(64, 8).asSlice(2, 12)), b.grad));
  }

  @Test
  void readOnlyGradientFromAFileMapping(@TempDir Path dir) throws IOException {
    // Mapped READ_ONLY, the kernel's first store would be a SIGSEGV that takes the JVM down.
    try (HostBatch batch = HostBatch.random(new Random(21), 3, 4, 9, 2, LogitsType.F32, LabelType.I64, 1, 0, -1, -1);
         GroupRobustLoss loss = valid().build();
         FileChannel file = FileChannel.open(Files.write(dir.resolve("grad.bin"), new byte[(int) batch.grad.byteSize()]),
             StandardOpenOption.READ);
         Arena arena = Arena.ofConfined()) {
      MemorySegment mapped = file.map(FileChannel.MapMode.READ_ONLY, 0, batch.grad.byteSize(), arena);
      assertRejected(IllegalArgumentException.class, "grad is read-only",
          () -> loss.forwardBackward(batch.batch(), mapped));
      assertRejected(IllegalArgumentException.class, "grad is read-only",
          () -> loss.forwardBackward(batch.batch(), batch.grad.asReadOnly()));
      // In place over read-only logits: the logits are the gradient's memory.
      MemorySegment readOnlyLogits = batch.logits.asReadOnly();
      PreferenceBatch readOnly = new PreferenceBatch(batch.tokens(readOnlyLogits), batch.refLogps, batch.groupIds);
      assertRejected(IllegalArgumentException.class, "grad is read-only",
          () -> loss.forwardBackward(readOnly, readOnlyLogits));
      assertEquals(0, loss.state().steps());
      loss.evaluate(readOnly); // Reading read-only memory is fine.
    }
  }

  @Test
  void aConfinedSegmentOfAnotherThread() throws Exception {
    try (HostBatch batch = HostBatch.random(new Random(22), 3, 4, 9, 2, LogitsType.F32, LabelType.I64, 1, 0, -1, -1);
         GroupRobustLoss loss = valid().build();
         Arena confined = Arena.ofConfined()) {
      MemorySegment groups = confined.allocate(JAVA_INT, 3);
      PreferenceBatch batchOfThisThread = new PreferenceBatch(batch.tokens(batch.logits), batch.refLogps, groups);
      ExecutorService other = Executors.newSingleThreadExecutor();
      try {
        Throwable e = other.submit(() -> {
          try {
            loss.forwardBackward(batchOfThisThread, batch.grad);
            return null;
          } catch (IllegalArgumentException rejected) {
            return rejected;
          }
        }).get(30, TimeUnit.SECONDS);
        assertTrue(e != null && e.getMessage().contains("groupIds belongs to a confined arena of another thread"),
            String.valueOf(e));
      } finally {
        other.shutdownNow();
      }
    }
  }

  @Test
  void overlappingSegments() {
    assertCallRejected(IllegalArgumentException.class, "logits and grad overlap", b -> { }, (loss, b) -> {
      MemorySegment shifted = b.arena.allocate(b.logits.byteSize() + 64, 16);
      shifted.copyFrom(b.logits);
      MemorySegment logits = shifted.asSlice(0, b.logits.byteSize());
      loss.forwardBackward(new PreferenceBatch(b.tokens(logits), b.refLogps, b.groupIds),
          shifted.asSlice(64, b.logits.byteSize()));
    });
    assertCallRejected(IllegalArgumentException.class, "labels and groupIds overlap", b -> { },
        (loss, b) -> loss.forwardBackward(new PreferenceBatch(b.tokens(b.logits), b.refLogps,
            b.labels.asSlice(0, 12)), b.grad));
    assertCallRejected(IllegalArgumentException.class, "refLogps and grad overlap", b -> { },
        (loss, b) -> loss.forwardBackward(new PreferenceBatch(b.tokens(b.logits),
            b.grad.asSlice(0, 4L * 6), b.groupIds), b.grad));
  }

  @Test
  void aSegmentLargerThanItsDeclarationIsAWrongTypeNotSilentGarbage() {
    // f32 logits declared as bf16 with the same shape: twice the bytes. Read as bf16 they gave J = 1e35.
    assertCallRejected(IllegalArgumentException.class, "2x the bytes: f32 data declared as a 16-bit type?", b -> { },
        (loss, b) -> loss.evaluate(new PreferenceBatch(new TokenLogits(b.logits, LogitsType.BF16, b.labels,
            LabelType.I64, 6, 4, 9), b.refLogps, b.groupIds)));
    assertCallRejected(IllegalArgumentException.class, "asSlice(0, 24)", b -> { },
        (loss, b) -> loss.evaluate(new PreferenceBatch(b.tokens(b.logits), b.arena.allocate(64, 8), b.groupIds)));
  }

  @Test
  void anF16GradientThatWouldOverflowIsRefused() {
    // IPO with a tiny beta: 1/(2 beta) = 5e6, so dl/dh and with it every row's coefficient is far beyond 65504.
    try (HostBatch batch = HostBatch.random(new Random(23), 3, 4, 9, 2, LogitsType.F16, LabelType.I64, 1, 0, -1, -1);
         GroupRobustLoss loss = GroupRobustLoss.builder().groups(2).lossType(LossType.IPO).beta(1e-7).threads(1)
             .build();
         GroupRobustLoss reference = GroupRobustLoss.builder().groups(2).lossType(LossType.IPO).beta(1e-7)
             .backend(Backend.REFERENCE).build()) {
      batch.grad.fill((byte) 0x5a);
      for (GroupRobustLoss l : List.of(loss, reference)) {
        assertRejected(IllegalArgumentException.class, "does not fit f16",
            () -> l.forwardBackward(batch.batch(), batch.grad));
        assertEquals(GroupWeightState.uniform(2), l.state(), "a refused call does not move the weights");
      }
      for (long i = 0; i < batch.grad.byteSize(); i++) {
        assertEquals((byte) 0x5a, batch.grad.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i), "gradient untouched");
      }
      assertTrue(Double.isFinite(loss.evaluate(batch.batch()).loss()), "evaluation writes no gradient");
    }
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
  void stateOffTheSimplexIsRefusedAndOfAlphaNormalises() {
    // {5, 7} as log-weights are weights of 148 and 1097: evaluate used to report exactly those.
    assertRejected(IllegalArgumentException.class, "not on the log simplex",
        () -> new GroupWeightState(new double[] {5, 7}, 0));
    GroupWeightState state = GroupWeightState.ofAlpha(new double[] {1, 3}, 4);
    assertArrayEquals(new double[] {0.25, 0.75}, state.alpha(), 1e-15);
    assertEquals(4, state.steps());
    assertRejected(IllegalArgumentException.class, "alpha[0]", () -> GroupWeightState.ofAlpha(new double[] {0, 1}, 0));
    try (GroupRobustLoss loss = valid().build()) {
      loss.restoreState(state);
      assertArrayEquals(new double[] {0.25, 0.75}, loss.alpha(), 1e-15);
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
