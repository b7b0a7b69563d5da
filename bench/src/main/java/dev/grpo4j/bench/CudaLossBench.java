package dev.grpo4j.bench;

import static java.lang.foreign.ValueLayout.ADDRESS;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LabelType;
import dev.grpo4j.LossResult;
import dev.grpo4j.PreferenceBatch;
import dev.grpo4j.SequenceLogProbs;
import dev.grpo4j.TokenLogits;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
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
 * The fused kernel on a CUDA device through the public API, on device memory (grpo4j's own cudaMalloc helper),
 * default stream. Runs only where a GPU is present: ci/bench.sh leaves it out otherwise, and setup refuses to run
 * without a device. Every call is synchronous as seen from Java (GroupRobustLoss copies its small outputs back
 * and synchronises the stream; SequenceLogProbs likewise), so a sample is the device time of the kernels plus
 * the launch and copy-back costs. {@link #copy} is the device's own bandwidth probe: a device-to-device
 * cudaMemcpy of the logits' bytes, synchronised.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {Jvm.NATIVE_ACCESS, Jvm.XMS, Jvm.XMX, Jvm.PRETOUCH, Jvm.JAVACPP_NO_LIMIT})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Benchmark)
public class CudaLossBench extends MeasuredState {
  @Param({"16x64x256", "4x256x32000", "8x512x32000", "2x1024x128256"})
  public String shape;

  @Param({"f32", "bf16"})
  public String dtype;

  private final List<MemorySegment> device = new ArrayList<>();
  private Arena arena;
  private MemorySegment logits;
  private MemorySegment grad;
  private long bytes;
  private TokenLogits tokens;
  private PreferenceBatch batch;
  private GroupRobustLoss loss;

  @Setup(Level.Trial)
  public void setup(BenchmarkParams params) {
    begin(params);
    NativeLib.init();
    if (!GroupRobustLoss.cudaAvailable()) {
      throw new IllegalStateException("CudaLossBench needs a CUDA device and a grpo4j library built with CUDA; "
          + "ci/bench.sh runs it only where nvidia-smi lists a GPU");
    }
    Shape s = Shape.parse(shape);
    Dtype type = Dtype.parse(dtype);
    bytes = s.elements() * type.bytes();
    arena = Arena.ofShared();
    MemorySegment hostLogits = arena.allocate(bytes, 64);
    MemorySegment hostLabels = arena.allocate(8 * s.positions(), 8);
    MemorySegment hostRef = arena.allocate(4L * s.rows(), 4);
    MemorySegment hostIds = arena.allocate(4L * s.pairs(), 4);
    BenchData.fillLogits(hostLogits, s.elements(), type);
    BenchData.fillLabels(hostLabels, s);
    BenchData.fillRef(hostRef, s);
    BenchData.fillGroupIds(hostIds, s);
    logits = upload(hostLogits);
    MemorySegment labels = upload(hostLabels);
    MemorySegment ref = upload(hostRef);
    MemorySegment ids = upload(hostIds);
    grad = malloc(bytes);
    tokens = new TokenLogits(logits, type.logitsType, labels, LabelType.I64, s.rows(), s.seqLen(), s.vocab());
    batch = new PreferenceBatch(tokens, ref, ids);
    loss = BenchData.lossBuilder().backend(Backend.CUDA).build();

    String name = "fused CUDA " + method();
    MemorySegment back = arena.allocate(bytes, 64);
    switch (method()) {
      case "forwardBackward", "forwardBackwardInPlace" -> {
        Expected want = Expected.of(name, s, hostLogits, type, hostLabels, hostRef, true);
        MemorySegment out = method().equals("forwardBackward") ? grad : logits;
        LossResult r = loss.forwardBackward(batch, out);
        copy(back, out, bytes);
        FusedCpuBench.check(want, r, back);
      }
      case "forward" -> FusedCpuBench.check(Expected.of(name, s, hostLogits, type, hostLabels, hostRef, false),
          loss.evaluate(batch), null);
      case "sequenceLogProbs" -> Expected.of(name, s, hostLogits, type, hostLabels, hostRef, false)
          .verifyLogps(SequenceLogProbs.compute(tokens, Backend.CUDA).logProbs());
      case "copy" -> {
        copy();
        copy(back, grad, bytes);
        if (back.mismatch(hostLogits) != -1) {
          throw new IllegalStateException("device copy probe: copy differs from the logits");
        }
      }
      default -> throw new IllegalStateException("unknown benchmark " + method());
    }
  }

  private MemorySegment malloc(long size) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment out = a.allocate(ADDRESS);
      int status = (int) NativeLib.CUDA_MALLOC.invokeExact(out, size);
      if (status != 0) {
        throw new IllegalStateException("grpo4j_cuda_malloc(" + size + ") failed: status " + status);
      }
      MemorySegment ptr = out.get(ADDRESS, 0).reinterpret(size);
      device.add(ptr);
      return ptr;
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  private MemorySegment upload(MemorySegment host) {
    MemorySegment d = malloc(host.byteSize());
    copy(d, host, host.byteSize());
    return d;
  }

  private static void copy(MemorySegment dst, MemorySegment src, long size) {
    try {
      int status = (int) NativeLib.CUDA_MEMCPY.invokeExact(dst, src, size, MemorySegment.NULL);
      int sync = (int) NativeLib.CUDA_SYNCHRONIZE.invokeExact(MemorySegment.NULL);
      if (status != 0 || sync != 0) {
        throw new IllegalStateException("grpo4j_cuda_memcpy failed: status " + status + ", " + sync);
      }
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Throwable {
    if (loss != null) {
      loss.close();
    }
    for (MemorySegment d : device) {
      int ignored = (int) NativeLib.CUDA_FREE.invokeExact(d);
    }
    arena.close();
  }

  @Benchmark
  public LossResult forwardBackward() {
    return loss.forwardBackward(batch, grad);
  }

  @Benchmark
  public LossResult forwardBackwardInPlace() {
    return loss.forwardBackward(batch, logits);
  }

  @Benchmark
  public LossResult forward() {
    return loss.evaluate(batch);
  }

  @Benchmark
  public SequenceLogProbs sequenceLogProbs() {
    return SequenceLogProbs.compute(tokens, Backend.CUDA);
  }

  /** Bandwidth probe: device-to-device copy of the logits' bytes into the gradient buffer, synchronised. */
  @Benchmark
  public MemorySegment copy() {
    copy(grad, logits, bytes);
    return grad;
  }
}
