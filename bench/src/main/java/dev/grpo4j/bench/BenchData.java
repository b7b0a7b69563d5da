package dev.grpo4j.bench;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.Weighting;
import java.lang.foreign.MemorySegment;
import java.util.stream.IntStream;

/**
 * The inputs every benchmark uses, generated deterministically from the element index (so any variant, fork or
 * machine sees the same numbers without storing them): logits uniform in [-4, 4), every position labelled (a
 * masked position is skipped by pass 1 and would lower the bytes the kernel must read), labels uniform in
 * [0, V), reference log-probs near the expected sequence log-prob, pairs spread over {@link #GROUPS} groups.
 * The loss is GR-DPO: DPO with beta {@link #BETA}, ROBUST weights with eta {@link #ETA}, BATCH_MEAN groups.
 */
final class BenchData {
  static final double BETA = 0.1;
  static final double ETA = 0.01;
  static final int GROUPS = 4;
  private static final long LOGIT_SEED = 0x5DEECE66DL;
  private static final long LABEL_SEED = 0x2545F4914F6CDD1DL;
  private static final long CHUNK = 1 << 20;

  private BenchData() {}

  static GroupRobustLoss.Builder lossBuilder() {
    return GroupRobustLoss.builder().beta(BETA).weighting(Weighting.ROBUST).eta(ETA).chi(1.0).groups(GROUPS);
  }

  /** SplitMix64's finaliser: a good 64-bit mix of a counter. */
  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** Logit of element e as fp32 (before rounding to the storage type). */
  static float logit(long e) {
    long z = mix(e * 0x9E3779B97F4A7C15L + LOGIT_SEED);
    return (float) ((z >>> 40) * 0x1.0p-24) * 8f - 4f;
  }

  static int label(long position, int vocab) {
    return (int) Long.remainderUnsigned(mix(position + LABEL_SEED), vocab);
  }

  /** bf16 bits of f, rounded to nearest even (finite inputs). */
  static short toBf16(float f) {
    int u = Float.floatToRawIntBits(f);
    return (short) ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16);
  }

  static float fromBf16(short h) {
    return Float.intBitsToFloat((h & 0xffff) << 16);
  }

  /** Fills {@code elements} logits of type {@code dtype} into {@code logits}, in parallel chunks. */
  static void fillLogits(MemorySegment logits, long elements, Dtype dtype) {
    int chunks = (int) ((elements + CHUNK - 1) / CHUNK);
    IntStream.range(0, chunks).parallel().forEach(c -> {
      long begin = c * CHUNK;
      long end = Math.min(elements, begin + CHUNK);
      if (dtype == Dtype.F32) {
        for (long e = begin; e < end; e++) {
          logits.setAtIndex(JAVA_FLOAT, e, logit(e));
        }
      } else {
        for (long e = begin; e < end; e++) {
          logits.setAtIndex(JAVA_SHORT, e, toBf16(logit(e)));
        }
      }
    });
  }

  /** Labels [2B, T] as int64 (the type libtorch's gather needs). */
  static void fillLabels(MemorySegment labels, Shape s) {
    for (long p = 0; p < s.positions(); p++) {
      labels.setAtIndex(JAVA_LONG, p, label(p, s.vocab()));
    }
  }

  /**
   * Reference log-prob of every row: the expected sequence log-prob of uniform [-4, 4) logits,
   * {@code -T (ln V + ln(sinh 4 / 4))}, so that margins are of the size real data gives (|beta h| of a few).
   */
  static float refLogp(Shape s) {
    return (float) (-s.seqLen() * (Math.log(s.vocab()) + Math.log(Math.sinh(4) / 4)));
  }

  static void fillRef(MemorySegment ref, Shape s) {
    for (int r = 0; r < s.rows(); r++) {
      ref.setAtIndex(JAVA_FLOAT, r, refLogp(s));
    }
  }

  static int groupOf(int pair) {
    return pair % GROUPS;
  }

  static void fillGroupIds(MemorySegment ids, Shape s) {
    for (int i = 0; i < s.pairs(); i++) {
      ids.setAtIndex(JAVA_INT, i, groupOf(i));
    }
  }

  /** Element e of a logits buffer of type dtype, as float. */
  static float read(MemorySegment logits, Dtype dtype, long e) {
    return dtype == Dtype.F32 ? logits.getAtIndex(JAVA_FLOAT, e) : fromBf16(logits.getAtIndex(JAVA_SHORT, e));
  }
}
