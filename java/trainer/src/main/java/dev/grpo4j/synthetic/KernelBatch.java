package dev.grpo4j.synthetic;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.grpo4j.LabelType;
import dev.grpo4j.LogitsType;
import dev.grpo4j.PreferenceBatch;
import dev.grpo4j.TokenLogits;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The off-heap inputs of one set of pairs, allocated once per run: logits {@code [2B, 1, A]} fp32 (rewritten from
 * {@code theta} before each call), labels, reference log-probs (uniform reference: {@code log(1/A)} for every row)
 * and group ids. The reference terms cancel in the margin, which is therefore {@code theta . (phi_w - phi_l)}.
 */
final class KernelBatch {
  private final BanditFeatures pairs;
  private final float[] staging;
  private final MemorySegment logits;
  final PreferenceBatch batch;

  KernelBatch(BanditFeatures pairs, Arena arena) {
    this.pairs = pairs;
    int rows = 2 * pairs.pairs;
    int a = BanditFeatures.A;
    this.staging = new float[rows * a];
    this.logits = arena.allocate(JAVA_FLOAT, (long) rows * a);
    MemorySegment labels = arena.allocate(JAVA_INT, rows);
    MemorySegment.copy(pairs.labels, 0, labels, JAVA_INT, 0, rows);
    MemorySegment ref = arena.allocate(JAVA_FLOAT, rows);
    float logUniform = (float) -Math.log(a);
    for (int r = 0; r < rows; r++) {
      ref.setAtIndex(JAVA_FLOAT, r, logUniform);
    }
    MemorySegment groupIds = arena.allocate(JAVA_INT, pairs.pairs);
    MemorySegment.copy(pairs.groups, 0, groupIds, JAVA_INT, 0, pairs.pairs);
    this.batch = new PreferenceBatch(new TokenLogits(logits, LogitsType.F32, labels, LabelType.I32, rows, 1, a), ref,
        groupIds);
  }

  /** Writes the policy logits for {@code theta} into the off-heap logits. */
  void setLogits(double[] theta) {
    pairs.logits(theta, staging);
    MemorySegment.copy(staging, 0, logits, JAVA_FLOAT, 0, staging.length);
  }

  long logitsBytes() {
    return 4L * staging.length;
  }

  int logitsCount() {
    return staging.length;
  }
}
