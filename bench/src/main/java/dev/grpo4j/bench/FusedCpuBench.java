package dev.grpo4j.bench;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LabelType;
import dev.grpo4j.LossResult;
import dev.grpo4j.PreferenceBatch;
import dev.grpo4j.SequenceLogProbs;
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
 * The fused kernel on the CPU through the public API (GroupRobustLoss, SequenceLogProbs), default thread count:
 * training call with a separate gradient buffer and in place, evaluation call, sequence log-probs.
 *
 * <p>In place: the first call (in setup, checked) overwrites the logits with the gradient, and every timed call
 * then runs on the previous call's output. The kernel's cost does not depend on the values (branch-free exp, the
 * only data-dependent branch is a re-sum of a block whose max exceeds the running max by more than 64, which
 * neither uniform logits nor gradients trigger), so this times the same work without a 1 GB restore per call.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {Jvm.NATIVE_ACCESS, Jvm.XMS, Jvm.XMX, Jvm.PRETOUCH, Jvm.JAVACPP_NO_LIMIT})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@State(Scope.Benchmark)
public class FusedCpuBench extends MeasuredState {
  @Param({"16x64x256", "4x256x32000", "8x512x32000", "2x1024x128256"})
  public String shape;

  @Param({"f32", "bf16"})
  public String dtype;

  private Arena arena;
  private MemorySegment logits;
  private MemorySegment grad;
  private TokenLogits tokens;
  private PreferenceBatch batch;
  private GroupRobustLoss loss;

  @Setup(Level.Trial)
  public void setup(BenchmarkParams params) {
    begin(params);
    NativeLib.init();
    Shape s = Shape.parse(shape);
    Dtype type = Dtype.parse(dtype);
    long bytes = s.elements() * type.bytes();
    arena = Arena.ofShared();
    logits = arena.allocate(bytes, 64);
    MemorySegment labels = arena.allocate(8 * s.positions(), 8);
    MemorySegment ref = arena.allocate(4L * s.rows(), 4);
    MemorySegment ids = arena.allocate(4L * s.pairs(), 4);
    BenchData.fillLogits(logits, s.elements(), type);
    BenchData.fillLabels(labels, s);
    BenchData.fillRef(ref, s);
    BenchData.fillGroupIds(ids, s);
    tokens = new TokenLogits(logits, type.logitsType, labels, LabelType.I64, s.rows(), s.seqLen(), s.vocab());
    batch = new PreferenceBatch(tokens, ref, ids);
    loss = BenchData.lossBuilder().backend(Backend.CPU).build();

    String name = "fused CPU " + method();
    switch (method()) {
      case "forwardBackward" -> {
        Expected want = Expected.of(name, s, logits, type, labels, ref, true);
        grad = arena.allocate(bytes, 64);
        preallocatedBytes = bytes;
        check(want, loss.forwardBackward(batch, grad), grad);
      }
      case "forwardBackwardInPlace" -> {
        Expected want = Expected.of(name, s, logits, type, labels, ref, true);
        check(want, loss.forwardBackward(batch, logits), logits);
      }
      case "forward" -> {
        Expected want = Expected.of(name, s, logits, type, labels, ref, false);
        check(want, loss.evaluate(batch), null);
      }
      case "sequenceLogProbs" -> {
        Expected want = Expected.of(name, s, logits, type, labels, ref, false);
        want.verifyLogps(SequenceLogProbs.compute(tokens, Backend.CPU).logProbs());
      }
      default -> throw new IllegalStateException("unknown benchmark " + method());
    }
  }

  static void check(Expected want, LossResult got, MemorySegment grad) {
    want.verifyLoss(got.loss());
    float[] chosen = got.chosenLogps();
    float[] rejected = got.rejectedLogps();
    float[] rows = new float[chosen.length + rejected.length];
    System.arraycopy(chosen, 0, rows, 0, chosen.length);
    System.arraycopy(rejected, 0, rows, chosen.length, rejected.length);
    want.verifyLogps(rows);
    if (grad != null) {
      want.verifyGradient(grad);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    loss.close();
    arena.close();
  }

  /** Training call, gradient into its own buffer (allocated once; counted as extra memory). */
  @Benchmark
  public LossResult forwardBackward() {
    return loss.forwardBackward(batch, grad);
  }

  /** Training call, gradient written over the logits (what PreferenceTrainer does). */
  @Benchmark
  public LossResult forwardBackwardInPlace() {
    return loss.forwardBackward(batch, logits);
  }

  /** Evaluation call: one read of the logits, no gradient. */
  @Benchmark
  public LossResult forward() {
    return loss.evaluate(batch);
  }

  /** Masked sequence log-probs (reference log-prob precomputation). */
  @Benchmark
  public SequenceLogProbs sequenceLogProbs() {
    return SequenceLogProbs.compute(tokens, Backend.CPU);
  }
}
