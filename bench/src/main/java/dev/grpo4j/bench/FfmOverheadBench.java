package dev.grpo4j.bench;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LabelType;
import dev.grpo4j.LossResult;
import dev.grpo4j.PreferenceBatch;
import dev.grpo4j.TokenLogits;
import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
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
 * What the Java layer costs per call. Three calls on a tiny batch (2 pairs x T = 2 x V = 8, 4 groups: the kernel
 * runs on the calling thread and does almost nothing):
 * <ul>
 *   <li>{@link #emptyDowncall}: {@code grpo4j_abi_version()}, a native function that returns a constant, through a
 *       plain FFM downcall handle: the floor of any native call from Java;</li>
 *   <li>{@link #rawKernel}: {@code grpo4j_loss_forward_backward} through a downcall handle with the option, batch and
 *       exec structs filled once in setup and every output pointer set, as grpo4j-core sets them: the kernel plus
 *       the bare downcall;</li>
 *   <li>{@link #groupRobustLoss}: the same kernel through {@code GroupRobustLoss.forwardBackward}: validation of every
 *       segment, struct filling, the group-weight state copy and the outputs copied into a {@code LossResult}.</li>
 * </ul>
 * The overhead per fused call beyond the kernel is {@code groupRobustLoss - rawKernel}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {Jvm.NATIVE_ACCESS, Jvm.XMS, Jvm.XMX, Jvm.PRETOUCH, Jvm.JAVACPP_NO_LIMIT})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Benchmark)
public class FfmOverheadBench extends MeasuredState {
  static final Shape TINY = Shape.parse("2x2x8");

  /**
   * Kernel threads, for both the raw call (exec.num_threads) and GroupRobustLoss.threads(). The tiny batch runs on
   * the calling thread either way, but with 0 (the library default) every call also resolves the default thread
   * count, which reads /sys/devices/system/cpu/online (~6.5 µs, varying by microseconds between forks) and buries
   * the sub-microsecond difference this benchmark is after; 1 keeps the kernel's own cost at ~0.9 µs and equal on
   * both sides. {@code -p threads=0} shows the default (bench/NOTES.md).
   */
  @Param({"1"})
  public int threads;

  private static final StructLayout TOKENS = MemoryLayout.structLayout(ADDRESS.withName("logits"),
      ADDRESS.withName("labels"), JAVA_LONG.withName("rows"), JAVA_LONG.withName("seq_len"),
      JAVA_LONG.withName("vocab"), JAVA_INT.withName("logits_type"), JAVA_INT.withName("label_type"));
  private static final StructLayout OPTIONS = MemoryLayout.structLayout(JAVA_DOUBLE.withName("beta"),
      JAVA_DOUBLE.withName("label_smoothing"), JAVA_DOUBLE.withName("eta"), JAVA_DOUBLE.withName("chi"),
      JAVA_DOUBLE.withName("adjustment"), JAVA_INT.withName("loss_type"), JAVA_INT.withName("weighting"),
      JAVA_INT.withName("group_norm"), JAVA_INT.withName("ipo_length_norm"));
  private static final int OUTPUT_POINTERS = 16;
  private static final StructLayout BATCH = MemoryLayout.structLayout(TOKENS.withName("tokens"),
      ADDRESS.withName("ref_logps"), ADDRESS.withName("group_ids"), ADDRESS.withName("group_sizes"),
      ADDRESS.withName("log_alpha"), ADDRESS.withName("grad"), JAVA_LONG.withName("num_pairs"),
      JAVA_INT.withName("num_groups"), JAVA_INT.withName("reserved"),
      MemoryLayout.sequenceLayout(OUTPUT_POINTERS, ADDRESS).withName("out"));
  private static final StructLayout EXEC = MemoryLayout.structLayout(ADDRESS.withName("stream"),
      JAVA_INT.withName("backend"), JAVA_INT.withName("num_threads"));

  private Arena arena;
  private MemorySegment options;
  private MemorySegment batchStruct;
  private MemorySegment exec;
  private MemorySegment rawLoss;
  private GroupRobustLoss loss;
  private PreferenceBatch batch;
  private MemorySegment grad;

  @Setup(Level.Trial)
  public void setup(BenchmarkParams params) {
    begin(params);
    NativeLib.init();
    Shape s = TINY;
    arena = Arena.ofShared();
    long bytes = s.elements() * 4;
    MemorySegment logits = arena.allocate(bytes, 64);
    MemorySegment labels = arena.allocate(8 * s.positions(), 8);
    MemorySegment ref = arena.allocate(4L * s.rows(), 4);
    MemorySegment ids = arena.allocate(4L * s.pairs(), 4);
    grad = arena.allocate(bytes, 64);
    MemorySegment rawGrad = arena.allocate(bytes, 64);
    BenchData.fillLogits(logits, s.elements(), Dtype.F32);
    BenchData.fillLabels(labels, s);
    BenchData.fillRef(ref, s);
    BenchData.fillGroupIds(ids, s);
    TokenLogits tokens = new TokenLogits(logits, dev.grpo4j.LogitsType.F32, labels, LabelType.I64, s.rows(),
        s.seqLen(), s.vocab());
    batch = new PreferenceBatch(tokens, ref, ids);
    loss = BenchData.lossBuilder().backend(Backend.CPU).threads(threads).build();

    // The raw call's structs, filled once (grpo4j.h).
    options = arena.allocate(OPTIONS);
    options.set(JAVA_DOUBLE, OPTIONS.byteOffset(groupElement("beta")), BenchData.BETA);
    options.set(JAVA_DOUBLE, OPTIONS.byteOffset(groupElement("eta")), BenchData.ETA);
    options.set(JAVA_DOUBLE, OPTIONS.byteOffset(groupElement("chi")), 1.0);
    options.set(JAVA_INT, OPTIONS.byteOffset(groupElement("loss_type")), 0);   // DPO
    options.set(JAVA_INT, OPTIONS.byteOffset(groupElement("weighting")), 0);   // ROBUST
    options.set(JAVA_INT, OPTIONS.byteOffset(groupElement("group_norm")), 0);  // BATCH_MEAN
    exec = arena.allocate(EXEC);
    exec.set(JAVA_INT, EXEC.byteOffset(groupElement("backend")), 0);           // CPU
    exec.set(JAVA_INT, EXEC.byteOffset(groupElement("num_threads")), threads);
    int k = BenchData.GROUPS;
    MemorySegment logAlpha = arena.allocate(8L * k, 8);
    for (int g = 0; g < k; g++) {
      logAlpha.setAtIndex(JAVA_DOUBLE, g, -Math.log(k));
    }
    batchStruct = arena.allocate(BATCH);
    long t = BATCH.byteOffset(groupElement("tokens"));
    batchStruct.set(ADDRESS, t + TOKENS.byteOffset(groupElement("logits")), logits);
    batchStruct.set(ADDRESS, t + TOKENS.byteOffset(groupElement("labels")), labels);
    batchStruct.set(JAVA_LONG, t + TOKENS.byteOffset(groupElement("rows")), s.rows());
    batchStruct.set(JAVA_LONG, t + TOKENS.byteOffset(groupElement("seq_len")), s.seqLen());
    batchStruct.set(JAVA_LONG, t + TOKENS.byteOffset(groupElement("vocab")), s.vocab());
    batchStruct.set(JAVA_INT, t + TOKENS.byteOffset(groupElement("logits_type")), 0);
    batchStruct.set(JAVA_INT, t + TOKENS.byteOffset(groupElement("label_type")), 1);
    batchStruct.set(ADDRESS, BATCH.byteOffset(groupElement("ref_logps")), ref);
    batchStruct.set(ADDRESS, BATCH.byteOffset(groupElement("group_ids")), ids);
    batchStruct.set(ADDRESS, BATCH.byteOffset(groupElement("log_alpha")), logAlpha);
    batchStruct.set(ADDRESS, BATCH.byteOffset(groupElement("grad")), rawGrad);
    batchStruct.set(JAVA_LONG, BATCH.byteOffset(groupElement("num_pairs")), s.pairs());
    batchStruct.set(JAVA_INT, BATCH.byteOffset(groupElement("num_groups")), k);
    // Outputs: loss, 6 per-pair arrays, 7 per-group arrays, group counts, flags: every one, as grpo4j-core asks.
    long out = BATCH.byteOffset(groupElement("out"));
    rawLoss = arena.allocate(4);
    batchStruct.set(ADDRESS, out, rawLoss);
    for (int i = 1; i < OUTPUT_POINTERS; i++) {
      long n = i <= 6 ? s.pairs() : i <= 14 ? k : 1;
      batchStruct.set(ADDRESS, out + 8L * i, arena.allocate(4 * n, 4));
    }

    // Check: the raw call, the API call and the Java reference agree on the first (uniform-weight) call.
    Expected want = Expected.of("FFM overhead", s, logits, Dtype.F32, labels, ref, true);
    if (rawKernel() != 0) {
      throw new IllegalStateException("raw grpo4j_loss_forward_backward failed");
    }
    want.verifyLoss(rawLoss.get(JAVA_FLOAT, 0));
    want.verifyGradient(rawGrad);
    FusedCpuBench.check(want, loss.forwardBackward(batch, grad), grad);
    if (emptyDowncall() != 1) {
      throw new IllegalStateException("grpo4j_abi_version() != 1");
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    loss.close();
    arena.close();
  }

  @Benchmark
  public int emptyDowncall() {
    try {
      return (int) NativeLib.ABI_VERSION.invokeExact();
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  @Benchmark
  public int rawKernel() {
    try {
      return (int) NativeLib.LOSS_FORWARD_BACKWARD.invokeExact(options, batchStruct, exec);
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  @Benchmark
  public LossResult groupRobustLoss() {
    return loss.forwardBackward(batch, grad);
  }

  private static final String[] BATCH_FIELDS = {"ref_logps", "group_ids", "group_sizes", "log_alpha", "grad",
    "num_pairs", "num_groups", "reserved", "out"};
  private static final String[] TOKEN_FIELDS = {"logits", "labels", "rows", "seq_len", "vocab", "logits_type",
    "label_type"};

  /**
   * Diagnostic (not in the table): the 16 struct-offset lookups by field name that grpo4j-core's LossKernel.run
   * makes on every call ({@code Abi.offset}: {@code layout.byteOffset(groupElement(name))}), on the same layouts.
   * Compared with groupRobustLoss - rawKernel it shows how much of the Java overhead is path resolution that could
   * be computed once (bench/NOTES.md).
   */
  @Benchmark
  public long layoutPathLookups() {
    long sum = 0;
    long t = BATCH.byteOffset(groupElement("tokens"));
    for (String f : TOKEN_FIELDS) {
      sum += t + TOKENS.byteOffset(groupElement(f));
    }
    for (String f : BATCH_FIELDS) {
      sum += BATCH.byteOffset(groupElement(f));
    }
    return sum;
  }
}
