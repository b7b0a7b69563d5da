package dev.grpo4j;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.grpo4j.testing.RandomPreferences;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

/** A preference batch in off-heap memory built from Java arrays. */
final class HostBatch implements AutoCloseable {
  final Arena arena = Arena.ofShared();
  final int pairs;
  final int seqLen;
  final int vocab;
  final LogitsType logitsType;
  final LabelType labelType;
  final MemorySegment logits;
  final MemorySegment labels;
  final MemorySegment refLogps;
  final MemorySegment groupIds;
  final MemorySegment grad;

  HostBatch(int pairs, int seqLen, int vocab, LogitsType logitsType, LabelType labelType, float[] logitValues,
            long[] labelValues, float[] ref, int[] groups) {
    this.pairs = pairs;
    this.seqLen = seqLen;
    this.vocab = vocab;
    this.logitsType = logitsType;
    this.labelType = labelType;
    long elements = (long) 2 * pairs * seqLen * vocab;
    logits = arena.allocate(elements * logitsType.bytes(), 16);
    grad = arena.allocate(elements * logitsType.bytes(), 16);
    for (int e = 0; e < logitValues.length; e++) {
      store(logits, logitsType, e, logitValues[e]);
    }
    labels = arena.allocate((long) labelValues.length * labelType.bytes(), 8);
    for (int p = 0; p < labelValues.length; p++) {
      if (labelType == LabelType.I64) {
        labels.setAtIndex(JAVA_LONG, p, labelValues[p]);
      } else {
        labels.setAtIndex(JAVA_INT, p, (int) labelValues[p]);
      }
    }
    refLogps = arena.allocateFrom(JAVA_FLOAT, ref);
    groupIds = arena.allocateFrom(JAVA_INT, groups);
  }

  /**
   * A {@link RandomPreferences} batch of logits {@code scale * N(0,1)}, positions masked with probability
   * {@code maskFraction}, row {@code maskedRow} (if >= 0) fully masked, group {@code absentGroup} (if >= 0 and
   * K > 1) never drawn.
   */
  static HostBatch random(Random rng, int pairs, int seqLen, int vocab, int groups, LogitsType logitsType,
                          LabelType labelType, double scale, double maskFraction, int maskedRow, int absentGroup) {
    RandomPreferences p = RandomPreferences.generate(rng, new RandomPreferences.Shape("", pairs, seqLen, vocab, groups,
        maskFraction, maskedRow, absentGroup), scale);
    return new HostBatch(pairs, seqLen, vocab, logitsType, labelType, p.logits(), p.labels(), p.ref(), p.groupIds());
  }

  TokenLogits tokens(MemorySegment logitsSegment) {
    return new TokenLogits(logitsSegment, logitsType, labels, labelType, 2 * pairs, seqLen, vocab);
  }

  PreferenceBatch batch() {
    return new PreferenceBatch(tokens(logits), refLogps, groupIds);
  }

  /** A fresh copy of the logits, e.g. to receive an in-place gradient. */
  MemorySegment logitsCopy() {
    MemorySegment copy = arena.allocate(logits.byteSize(), 16);
    copy.copyFrom(logits);
    return copy;
  }

  /** Every element of a logits-shaped segment (the logits, a gradient), widened to double. */
  double[] read(MemorySegment segment) {
    double[] values = new double[2 * pairs * seqLen * vocab];
    for (int e = 0; e < values.length; e++) {
      values[e] = load(segment, logitsType, e);
    }
    return values;
  }

  static void store(MemorySegment segment, LogitsType type, long index, float value) {
    switch (type) {
      case F32 -> segment.setAtIndex(JAVA_FLOAT, index, value);
      case F16 -> segment.setAtIndex(JAVA_SHORT, index, Float.floatToFloat16(value));
      case BF16 -> {
        int bits = Float.floatToRawIntBits(value);
        bits += 0x7fff + ((bits >>> 16) & 1);
        segment.setAtIndex(JAVA_SHORT, index, (short) (bits >>> 16));
      }
    }
  }

  static double load(MemorySegment segment, LogitsType type, long index) {
    return switch (type) {
      case F32 -> segment.getAtIndex(JAVA_FLOAT, index);
      case F16 -> Float.float16ToFloat(segment.getAtIndex(JAVA_SHORT, index));
      case BF16 -> Float.intBitsToFloat((segment.getAtIndex(JAVA_SHORT, index) & 0xffff) << 16);
    };
  }

  @Override
  public void close() {
    arena.close();
  }
}
