package dev.grpo4j.bench;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LabelType;
import dev.grpo4j.LogitsType;
import dev.grpo4j.LossResult;
import dev.grpo4j.PreferenceBatch;
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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * The plain Java reference ({@link Reference}: double precision, Math.exp, the log-sum-exp pass on the common
 * fork-join pool, the gradient pass on one thread) doing the whole training call on the small shape 16x64x256 fp32
 * only: what the loss costs with no native kernel. Checked in setup against the native double-precision reference
 * backend (Backend.REFERENCE), an independent implementation.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {Jvm.NATIVE_ACCESS, Jvm.XMS, Jvm.XMX, Jvm.PRETOUCH, Jvm.JAVACPP_NO_LIMIT})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@State(Scope.Benchmark)
public class JavaReferenceBench extends MeasuredState {
  static final Shape SHAPE = Shape.parse("16x64x256");

  private Arena arena;
  private MemorySegment logits;
  private MemorySegment labels;
  private MemorySegment ref;
  private MemorySegment grad;
  private double[] logAlpha;

  @Setup(Level.Trial)
  public void setup(BenchmarkParams params) {
    begin(params);
    NativeLib.init();
    arena = Arena.ofShared();
    long bytes = SHAPE.elements() * 4;
    logits = arena.allocate(bytes, 64);
    labels = arena.allocate(8 * SHAPE.positions(), 8);
    ref = arena.allocate(4L * SHAPE.rows(), 4);
    MemorySegment ids = arena.allocate(4L * SHAPE.pairs(), 4);
    grad = arena.allocate(bytes, 64);
    preallocatedBytes = bytes;
    BenchData.fillLogits(logits, SHAPE.elements(), Dtype.F32);
    BenchData.fillLabels(labels, SHAPE);
    BenchData.fillRef(ref, SHAPE);
    BenchData.fillGroupIds(ids, SHAPE);

    logAlpha = Reference.uniformLogAlpha();
    double loss = Reference.forwardBackward(SHAPE, logits, labels, ref, logAlpha, grad);
    MemorySegment nativeGrad = arena.allocate(bytes, 64);
    try (GroupRobustLoss oracle = BenchData.lossBuilder().backend(Backend.REFERENCE).build()) {
      TokenLogits tokens = new TokenLogits(logits, LogitsType.F32, labels, LabelType.I64, SHAPE.rows(),
          SHAPE.seqLen(), SHAPE.vocab());
      LossResult r = oracle.forwardBackward(new PreferenceBatch(tokens, ref, ids), nativeGrad);
      if (Math.abs(r.loss() - loss) > 1e-5 * Math.max(1, Math.abs(loss))) {
        throw new IllegalStateException("Java reference J = " + loss + ", native reference backend " + r.loss());
      }
      for (long e = 0; e < SHAPE.elements(); e++) {
        float a = grad.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, e);
        float b = nativeGrad.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, e);
        if (Math.abs(a - b) > 1e-6 * Math.abs(b) + 1e-9) {
          throw new IllegalStateException("Java reference gradient element " + e + " = " + a
              + ", native reference backend " + b);
        }
      }
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    arena.close();
  }

  @Benchmark
  public double forwardBackward() {
    return Reference.forwardBackward(SHAPE, logits, labels, ref, logAlpha, grad);
  }
}
