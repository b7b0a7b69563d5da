package dev.grpo4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Batches from plain Java arrays and buffers: the element types follow from the arrays, the lengths must match the
 * shape, and the result is the same loss as a batch laid out by hand.
 */
class PreferenceBatchBuilderTest {
  private static final int PAIRS = 3;
  private static final int SEQ_LEN = 4;
  private static final int VOCAB = 9;

  @Test
  void arraysGiveTheSameLossAsAHandMadeBatch() {
    try (HostBatch hand = HostBatch.random(new Random(31), PAIRS, SEQ_LEN, VOCAB, 2, LogitsType.F32, LabelType.I64, 1,
        0.2, -1, -1);
         Arena arena = Arena.ofConfined();
         GroupRobustLoss a = GroupRobustLoss.builder().groups(2).eta(0.5).threads(1).build();
         GroupRobustLoss b = GroupRobustLoss.builder().groups(2).eta(0.5).threads(1).build()) {
      PreferenceBatch built = PreferenceBatch.builder(PAIRS, SEQ_LEN, VOCAB)
          .logits(hand.logits.toArray(ValueLayout.JAVA_FLOAT))
          .labels(hand.labels.toArray(ValueLayout.JAVA_LONG))
          .refLogps(hand.refLogps.toArray(ValueLayout.JAVA_FLOAT))
          .groupIds(hand.groupIds.toArray(ValueLayout.JAVA_INT))
          .build(arena);
      assertEquals(LogitsType.F32, built.tokens().logitsType());
      assertEquals(LabelType.I64, built.tokens().labelType());
      MemorySegment grad = arena.allocate(built.tokens().logitsBytes(), 16);
      LossResult fromArrays = a.forwardBackward(built, grad);
      LossResult byHand = b.forwardBackward(hand.batch(), hand.grad);
      assertEquals(byHand.loss(), fromArrays.loss());
      assertArrayEquals(hand.grad.toArray(ValueLayout.JAVA_FLOAT), grad.toArray(ValueLayout.JAVA_FLOAT));
      assertTrue(fromArrays.toString().startsWith("LossResult[J=" + (float) fromArrays.loss() + ", pairs=3, g0={L="),
          fromArrays.toString());
      assertEquals("PreferenceBatch[pairs=3, seqLen=4, vocab=9, logits=F32, labels=I64]", built.toString());
    }
  }

  @Test
  void halfPrecisionArraysIntLabelsAndDirectBuffers() {
    int logits = 2 * PAIRS * SEQ_LEN * VOCAB;
    float[] values = new float[logits];
    Random random = new Random(32);
    for (int i = 0; i < logits; i++) {
      values[i] = (float) random.nextGaussian();
    }
    int[] labels = new int[2 * PAIRS * SEQ_LEN];
    for (int p = 0; p < labels.length; p++) {
      labels[p] = random.nextInt(VOCAB);
    }
    float[] ref = new float[2 * PAIRS];
    int[] groups = {0, 1, 0};
    try (Arena arena = Arena.ofConfined(); GroupRobustLoss loss = GroupRobustLoss.builder().groups(2).build()) {
      PreferenceBatch bf16 = PreferenceBatch.builder(PAIRS, SEQ_LEN, VOCAB).bf16Logits(BFloat16.fromFloats(values))
          .labels(labels).refLogps(ref).groupIds(groups).build(arena);
      assertEquals(LogitsType.BF16, bf16.tokens().logitsType());
      assertEquals(LabelType.I32, bf16.tokens().labelType());
      short[] halves = new short[logits];
      for (int i = 0; i < logits; i++) {
        halves[i] = Float.floatToFloat16(values[i]);
      }
      PreferenceBatch f16 = PreferenceBatch.builder(PAIRS, SEQ_LEN, VOCAB).f16Logits(halves).labels(labels)
          .refLogps(ref).groupIds(groups).build(arena);
      ByteBuffer direct = ByteBuffer.allocateDirect(4 * logits).order(ByteOrder.nativeOrder());
      direct.asFloatBuffer().put(values);
      PreferenceBatch fromBuffer = PreferenceBatch.builder(PAIRS, SEQ_LEN, VOCAB).logits(direct, LogitsType.F32)
          .labels(labels).refLogps(ref).groupIds(groups).build(arena);
      double f32 = loss.evaluate(fromBuffer).loss();
      assertEquals(f32, loss.evaluate(bf16).loss(), 5e-2 * Math.abs(f32), "bf16 rounding only");
      assertEquals(f32, loss.evaluate(f16).loss(), 5e-3 * Math.abs(f32), "f16 rounding only");
    }
  }

  @Test
  void lengthsAndMissingPartsAreNamed() {
    PreferenceBatch.Builder builder = PreferenceBatch.builder(PAIRS, SEQ_LEN, VOCAB);
    IllegalArgumentException shortLogits = assertThrows(IllegalArgumentException.class,
        () -> builder.logits(new float[10]));
    assertTrue(shortLogits.getMessage().startsWith("logits has 10 elements but the batch (3 pairs, 4 positions per "
        + "row, vocabulary 9) needs 216"), shortLogits.getMessage());
    assertThrows(IllegalArgumentException.class, () -> builder.groupIds(new int[4]));
    assertThrows(IllegalArgumentException.class, () -> builder.refLogps(new float[3]));
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> {
      try (Arena arena = Arena.ofConfined()) {
        builder.logits(new float[216]).refLogps(new float[6]).groupIds(new int[3]).build(arena);
      }
    });
    assertTrue(missing.getMessage().startsWith("labels is not set"), missing.getMessage());
    IllegalArgumentException heap = assertThrows(IllegalArgumentException.class, () -> {
      try (Arena arena = Arena.ofConfined()) {
        PreferenceBatch.builder(PAIRS, SEQ_LEN, VOCAB).logits(ByteBuffer.allocate(4 * 216), LogitsType.F32)
            .labels(new int[24]).refLogps(new float[6]).groupIds(new int[3]).build(arena);
      }
    });
    assertTrue(heap.getMessage().contains("heap ByteBuffer"), heap.getMessage());
  }

  @Test
  void bfloat16RoundsToNearestEven() {
    assertEquals((short) 0x3f80, BFloat16.fromFloat(1.0f));
    assertEquals(1.0f, BFloat16.toFloat((short) 0x3f80));
    // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even one, 1.
    assertEquals((short) 0x3f80, BFloat16.fromFloat(1.0f + 0x1p-8f));
    assertEquals((short) 0x3f81, BFloat16.fromFloat(1.0f + 0x1p-8f + 0x1p-20f));
    assertTrue(Float.isNaN(BFloat16.toFloat(BFloat16.fromFloat(Float.NaN))));
    assertEquals(Float.NEGATIVE_INFINITY, BFloat16.toFloat(BFloat16.fromFloat(Float.NEGATIVE_INFINITY)));
    assertArrayEquals(new float[] {1.0f, -2.0f}, BFloat16.toFloats(BFloat16.fromFloats(new float[] {1.0f, -2.0f})));
  }
}
