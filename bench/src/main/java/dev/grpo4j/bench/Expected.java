package dev.grpo4j.bench;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LabelType;
import dev.grpo4j.LossResult;
import dev.grpo4j.PreferenceBatch;
import dev.grpo4j.TokenLogits;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Locale;

/**
 * What a benchmark's first call must produce, from grpo4j's double-precision REFERENCE backend (single-threaded,
 * obvious loops; checked against a float64 PyTorch oracle on the GPU machine), computed before that call (an
 * in-place call overwrites the logits): the objective, the sequence log-probs and the gradient at a sample of
 * positions (every position on small shapes). {@link #verify} throws, which fails the benchmark before any timing,
 * when an output is off by more than the tolerance of its type.
 */
final class Expected {
  private final String name;
  private final Shape shape;
  private final Dtype dtype;
  private final double loss;
  private final double[] rowLogp;
  private final long[] positions;
  private final double[][] gradRows;

  private Expected(String name, Shape shape, Dtype dtype, double loss, double[] rowLogp, long[] positions,
                   double[][] gradRows) {
    this.name = name;
    this.shape = shape;
    this.dtype = dtype;
    this.loss = loss;
    this.rowLogp = rowLogp;
    this.positions = positions;
    this.gradRows = gradRows;
  }

  /**
   * The reference for a call from uniform group weights ({@code train}: with the weight update and gradient).
   * {@code labels} are int64, as BenchData writes them.
   */
  static Expected of(String name, Shape s, MemorySegment logits, Dtype dtype, MemorySegment labels, MemorySegment ref,
                     boolean train) {
    return of(name, s, logits, dtype, labels, ref, train, BenchData.lossBuilder());
  }

  /** As {@link #of(String, Shape, MemorySegment, Dtype, MemorySegment, MemorySegment, boolean)}, for {@code loss}. */
  static Expected of(String name, Shape s, MemorySegment logits, Dtype dtype, MemorySegment labels, MemorySegment ref,
                     boolean train, GroupRobustLoss.Builder loss) {
    try (Arena arena = Arena.ofConfined();
         GroupRobustLoss reference = loss.backend(Backend.REFERENCE).build()) {
      MemorySegment groupIds = arena.allocate(JAVA_INT, s.pairs());
      BenchData.fillGroupIds(groupIds, s);
      PreferenceBatch batch = new PreferenceBatch(new TokenLogits(logits, dtype.logitsType, labels, LabelType.I64,
          s.rows(), s.seqLen(), s.vocab()), ref, groupIds);
      MemorySegment grad = train ? arena.allocate(logits.byteSize(), 64) : null;
      LossResult r = train ? reference.forwardBackward(batch, grad) : reference.evaluate(batch);
      double[] rows = new double[s.rows()];
      float[] chosen = r.chosenLogps();
      float[] rejected = r.rejectedLogps();
      for (int i = 0; i < s.pairs(); i++) {
        rows[i] = chosen[i];
        rows[s.pairs() + i] = rejected[i];
      }
      long[] positions = samplePositions(s);
      double[][] gradRows = new double[positions.length][];
      if (train) {
        for (int i = 0; i < positions.length; i++) {
          gradRows[i] = new double[s.vocab()];
          for (int v = 0; v < s.vocab(); v++) {
            gradRows[i][v] = BenchData.read(grad, dtype, positions[i] * s.vocab() + v);
          }
        }
      }
      return new Expected(name, s, dtype, r.loss(), rows, positions, gradRows);
    }
  }

  /** The objective J of the reference call. */
  double loss() {
    return loss;
  }

  /** Every position when the logits are small (up to 4 Mi elements), else 24 spread over rows and positions. */
  static long[] samplePositions(Shape s) {
    if (s.elements() <= (4L << 20)) {
      long[] all = new long[Math.toIntExact(s.positions())];
      Arrays.setAll(all, i -> i);
      return all;
    }
    long[] picked = new long[24];
    for (int i = 0; i < picked.length; i++) {
      picked[i] = i == 0 ? 0 : i == 1 ? s.positions() - 1 : Long.remainderUnsigned(BenchData.mix(977L * i),
          s.positions());
    }
    return picked;
  }

  /** Objective, within abs 5e-3 + rel 1e-3 (fp32 sums over T*V terms feed it through the margins). */
  void verifyLoss(double got) {
    require("objective J", got, loss, 5e-3 + 1e-3 * Math.abs(loss));
  }

  /** Sequence log-probs s_r in row order, within rel 2e-5 + abs 1e-2. */
  void verifyLogps(float[] got) {
    for (int r = 0; r < shape.rows(); r++) {
      double want = rowLogp[r];
      require("s_" + r, got[r], want, 1e-2 + 2e-5 * Math.abs(want));
    }
  }

  /** The sampled gradient rows, read from {@code grad} (elements of {@code dtype}). */
  void verifyGradient(MemorySegment grad) {
    double relative = dtype == Dtype.F32 ? 2e-3 : 1.2e-2;
    for (int i = 0; i < positions.length; i++) {
      double[] want = gradRows[i];
      double scale = 0;
      for (double w : want) {
        scale = Math.max(scale, Math.abs(w));
      }
      long base = positions[i] * shape.vocab();
      for (int v = 0; v < shape.vocab(); v++) {
        double g = BenchData.read(grad, dtype, base + v);
        require("dJ/dz at position " + positions[i] + ", entry " + v, g, want[v],
            relative * Math.abs(want[v]) + 1e-4 * scale + 1e-30);
      }
    }
  }

  private void require(String what, double got, double want, double tolerance) {
    if (!(Math.abs(got - want) <= tolerance)) {
      throw new IllegalStateException(String.format(Locale.ROOT,
          "%s, %s %s: %s = %.9g but the REFERENCE backend gives %.9g (tolerance %.3g): the output is wrong, not timed",
          name, shape, dtype.name().toLowerCase(Locale.ROOT), what, got, want, tolerance));
    }
  }
}
