package dev.grpo4j.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
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
 * The bandwidth probe: glibc memcpy (non-temporal stores above its threshold, as the kernel uses for a separate
 * gradient) of a buffer as large as the shape's logits, between two pre-touched buffers, on one thread and split
 * over two. Copy bandwidth = (bytes read + bytes written) / time; the report takes the faster of the two and
 * defines each kernel's floor as the bytes it must move divided by it (fused: 2 reads + 1 write of the logits;
 * forward: 1 read).
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {Jvm.NATIVE_ACCESS, Jvm.XMS, Jvm.XMX, Jvm.PRETOUCH, Jvm.JAVACPP_NO_LIMIT})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Benchmark)
public class CopyBench extends MeasuredState {
  @Param({"16x64x256", "4x256x32000", "8x512x32000", "2x1024x128256"})
  public String shape;

  @Param({"f32", "bf16"})
  public String dtype;

  private Arena arena;
  private MemorySegment src;
  private MemorySegment dst;
  private long bytes;
  private ExecutorService helper;

  @Setup(Level.Trial)
  public void setup(BenchmarkParams params) {
    begin(params);
    Shape s = Shape.parse(shape);
    Dtype type = Dtype.parse(dtype);
    bytes = s.elements() * type.bytes();
    arena = Arena.ofShared();
    src = arena.allocate(bytes, 64);
    dst = arena.allocate(bytes, 64);
    BenchData.fillLogits(src, s.elements(), type);
    dst.fill((byte) 0);
    NativeLib.memcpy(dst, src, bytes);
    if (dst.mismatch(src) != -1) {
      throw new IllegalStateException("memcpy probe: destination differs from source");
    }
    helper = Executors.newSingleThreadExecutor();
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    helper.shutdownNow();
    arena.close();
  }

  @Benchmark
  public MemorySegment copy() {
    NativeLib.memcpy(dst, src, bytes);
    return dst;
  }

  @Benchmark
  public MemorySegment copyTwoThreads() throws InterruptedException, ExecutionException {
    long half = (bytes / 2) & ~63L;
    Future<?> other = helper.submit(() -> NativeLib.memcpy(dst.asSlice(half), src.asSlice(half), bytes - half));
    NativeLib.memcpy(dst, src, half);
    other.get();
    return dst;
  }
}
