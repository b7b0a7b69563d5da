package dev.grpo4j.bench;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LabelType;
import dev.grpo4j.LossResult;
import dev.grpo4j.LossStatistics;
import dev.grpo4j.PairLoss;
import dev.grpo4j.PreferenceBatch;
import dev.grpo4j.SequenceBatch;
import dev.grpo4j.TokenLogits;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * Every pair loss of the table in the fused CPU kernel's training call (robust weights, gradient into its own
 * buffer), to compare with {@code sigmoid}: the pair step is B pairs against the T*V passes, so every loss should
 * cost what sigmoid costs; and that pair step alone ({@code pairStep}). Each loss's first call is checked against
 * the REFERENCE backend before timing.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {Jvm.NATIVE_ACCESS, Jvm.XMS, Jvm.XMX, Jvm.PRETOUCH, Jvm.JAVACPP_NO_LIMIT})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@State(Scope.Benchmark)
public class LossTableBench extends MeasuredState {
  @Param({"8x512x32000"})
  public String shape;

  @Param({"sigmoid", "ipo", "hinge", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot", "aot_unpaired",
      "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm", "simpo"})
  public String loss;

  private Arena arena;
  private MemorySegment grad;
  private PreferenceBatch batch;
  private GroupRobustLoss fused;
  private SequenceBatch sequences;

  @Setup(Level.Trial)
  public void setup(BenchmarkParams params) {
    begin(params);
    NativeLib.init();
    Shape s = Shape.parse(shape);
    if (method().equals("pairStep")) {
      setupPairStep(s);
      return;
    }
    long bytes = s.elements() * Dtype.F32.bytes();
    arena = Arena.ofShared();
    MemorySegment logits = arena.allocate(bytes, 64);
    MemorySegment labels = arena.allocate(8 * s.positions(), 8);
    MemorySegment ref = arena.allocate(4L * s.rows(), 4);
    MemorySegment ids = arena.allocate(4L * s.pairs(), 4);
    BenchData.fillLogits(logits, s.elements(), Dtype.F32);
    BenchData.fillLabels(labels, s);
    BenchData.fillRef(ref, s);
    BenchData.fillGroupIds(ids, s);
    batch = new PreferenceBatch(new TokenLogits(logits, Dtype.F32.logitsType, labels, LabelType.I64, s.rows(),
        s.seqLen(), s.vocab()), ref, ids);
    Expected want = Expected.of("loss " + loss, s, logits, Dtype.F32, labels, ref, true, builder());
    fused = builder().backend(Backend.CPU).build();
    grad = arena.allocate(bytes, 64);
    preallocatedBytes = bytes;
    FusedCpuBench.check(want, fused.forwardBackward(batch, grad), grad);
  }

  /** The shape's pairs as sequence log-probs, checked against the REFERENCE backend's pair values. */
  private void setupPairStep(Shape s) {
    int pairs = Math.toIntExact(s.pairs());
    float[] logps = new float[2 * pairs];
    float[] ref = new float[2 * pairs];
    int[] counts = new int[2 * pairs];
    int[] groups = new int[pairs];
    for (int r = 0; r < 2 * pairs; r++) {
      counts[r] = 1 + (int) Long.remainderUnsigned(BenchData.mix(r), s.seqLen());
      logps[r] = -2.5f * counts[r] + (r % 3);
      ref[r] = -2.5f * counts[r] + (r % 5) * 0.5f;
    }
    for (int i = 0; i < pairs; i++) {
      groups[i] = i % BenchData.GROUPS;
    }
    sequences = new SequenceBatch(logps, counts, ref, groups);
    arena = Arena.ofShared();
    fused = builder().backend(Backend.CPU).build();
    try (GroupRobustLoss reference = builder().backend(Backend.REFERENCE).build()) {
      double[] want = reference.statistics(sequences).pairLossGradients();
      double[] got = pairStep().pairLossGradients();
      for (int r = 0; r < want.length; r++) {
        if (!(Math.abs(got[r] - want[r]) <= 1e-9 + 1e-9 * Math.abs(want[r]))) {
          throw new IllegalStateException("loss " + loss + ": dl/ds of row " + r + " is " + got[r] + ", the "
              + "REFERENCE backend gives " + want[r] + ": the output is wrong, not timed");
        }
      }
    }
  }

  private GroupRobustLoss.Builder builder() {
    PairLoss pairLoss = PairLoss.named(loss);
    return BenchData.lossBuilder().loss(pairLoss).labelSmoothing(pairLoss.needsLabelSmoothing() ? 1e-3 : 0)
        .ipoLengthNormalization(pairLoss.name().equals("ipo"));
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    fused.close();
    arena.close();
  }

  @Benchmark
  public LossResult forwardBackward() {
    return fused.forwardBackward(batch, grad);
  }

  /**
   * The pair step alone, all that differs between the losses: the shape's pairs as sequence log-probs through
   * phase 1 (pair losses, dl/ds, group sums), without the passes over the logits.
   */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  @Warmup(iterations = 1, time = 1)
  @Measurement(iterations = 3, time = 1)
  public LossStatistics pairStep() {
    return fused.statistics(sequences);
  }
}
