package dev.grpo4j.ffm;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.grpo4j.NonFiniteInputException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * One configured loss on one backend: the option, batch and exec structs, plus a staging block for the
 * small per-pair and per-group outputs (host memory, mirrored in device memory for CUDA). Not part of the
 * public API; {@code dev.grpo4j.GroupRobustLoss} wraps it. Not thread-safe: the caller serialises calls.
 *
 * <p>Staging block layout, for a capacity of P pairs and K groups: log_alpha [K] f64, group_sizes [K] i64,
 * loss [1] f32, six pair outputs [P] f32 each, seven group outputs [K] f32 each, group_count [K] i32,
 * flags [1] i32. For CUDA, log_alpha and group_sizes go up before each call and the whole block comes back
 * after it, in one copy each way. The phases on CUDA keep their group statistics, per-group coefficients and
 * workspace in device memory too, and copy the statistics and coefficients through the host segments.
 */
public final class LossKernel implements AutoCloseable {
  /** Backend codes of grpo4j_backend. */
  public static final int BACKEND_CPU = 0;
  public static final int BACKEND_CUDA = 1;
  public static final int BACKEND_REFERENCE = 2;

  private static final int PAIR_OUTPUTS = 6;

  // Struct offsets, resolved once: resolving them by name costs ~0.1 us each, on every call otherwise.
  private static final long TOKENS_LOGITS = Abi.offset(Abi.TOKENS, "logits");
  private static final long TOKENS_LABELS = Abi.offset(Abi.TOKENS, "labels");
  private static final long TOKENS_ROWS = Abi.offset(Abi.TOKENS, "rows");
  private static final long TOKENS_SEQ_LEN = Abi.offset(Abi.TOKENS, "seq_len");
  private static final long TOKENS_VOCAB = Abi.offset(Abi.TOKENS, "vocab");
  private static final long TOKENS_LOGITS_TYPE = Abi.offset(Abi.TOKENS, "logits_type");
  private static final long TOKENS_LABEL_TYPE = Abi.offset(Abi.TOKENS, "label_type");
  private static final long BATCH_REF_LOGPS = Abi.offset(Abi.BATCH, "ref_logps");
  private static final long BATCH_GROUP_IDS = Abi.offset(Abi.BATCH, "group_ids");
  private static final long BATCH_GROUP_SIZES = Abi.offset(Abi.BATCH, "group_sizes");
  private static final long BATCH_LOG_ALPHA = Abi.offset(Abi.BATCH, "log_alpha");
  private static final long BATCH_GRAD = Abi.offset(Abi.BATCH, "grad");
  private static final long BATCH_NUM_PAIRS = Abi.offset(Abi.BATCH, "num_pairs");
  private static final long BATCH_NUM_GROUPS = Abi.offset(Abi.BATCH, "num_groups");
  private static final long BATCH_RESERVED = Abi.offset(Abi.BATCH, "reserved");
  private static final long BATCH_OUT = Abi.offset(Abi.BATCH, "out");
  private static final int GROUP_OUTPUTS = 7;

  /** Scalar options, as grpo4j_options. */
  public record Options(double beta, double labelSmoothing, double eta, double chi, double adjustment, int lossType,
                        int weighting, int groupNorm, boolean ipoLengthNorm) {}

  /** Token-level inputs, as grpo4j_tokens; segments hold host or device addresses per backend. */
  public record Tokens(MemorySegment logits, MemorySegment labels, long rows, long seqLen, long vocab, int logitsType,
                       int labelType) {}

  /** Everything one call produced, copied into Java arrays of exactly B and K elements. */
  public record Outputs(float loss, float[][] pair, float[][] group, int[] groupCount) {}

  /**
   * Phase 1 of one batch: its group statistics ([K][GROUP_STATS] row-major) and pair outputs; the workspace holds
   * what phase 3 needs until the next statistics call, which {@code generation} identifies.
   */
  public record Statistics(double[] groupStats, float[][] pair, long generation) {}

  /** Phase 1 from sequence log-probs: group statistics, pair outputs, and dl_i/ds_r per row for the gradient. */
  public record SequenceStatistics(double[] groupStats, float[][] pair, double[] dloss) {}

  /** Phase 2: the objective, group outputs and counts, and dJ/dl per group for phase 3. */
  public record Step(float loss, float[][] group, int[] groupCount, double[] coef) {}

  /** Columns of the group statistics (GRPO4J_GROUP_STATS). */
  public static final int GROUP_STATS = Abi.GROUP_STATS;

  private final Arena arena = Arena.ofShared();
  private final int backend;
  private final int threads;
  private final MemorySegment stream;
  private final int groups;
  private final MemorySegment options;
  private final MemorySegment batch;
  private final MemorySegment exec;
  private final long[] groupSizes;
  private int capacity;
  private MemorySegment host;
  private MemorySegment device = MemorySegment.NULL;
  private final MemorySegment groupStats;
  private final MemorySegment groupCoef;
  private MemorySegment workspace = MemorySegment.NULL;
  private long workspaceBytes;
  /** CUDA only: group statistics [K][GROUP_STATS] then group coefficients [K], f64, in device memory. */
  private MemorySegment deviceGroupBuffers = MemorySegment.NULL;
  private long generation;

  public LossKernel(int backend, int threads, long stream, int groups, long[] groupSizes, Options options) {
    this.backend = backend;
    this.threads = threads;
    this.stream = MemorySegment.ofAddress(stream);
    this.groups = groups;
    this.groupSizes = groupSizes.clone();
    this.options = arena.allocate(Abi.OPTIONS);
    this.batch = arena.allocate(Abi.BATCH);
    this.exec = arena.allocate(Abi.EXEC);
    this.groupStats = arena.allocate(8L * groups * GROUP_STATS, 8);
    this.groupCoef = arena.allocate(8L * groups, 8);
    writeOptions(options);
    exec.set(ADDRESS, Abi.offset(Abi.EXEC, "stream"), this.stream);
    exec.set(JAVA_INT, Abi.offset(Abi.EXEC, "backend"), backend);
    exec.set(JAVA_INT, Abi.offset(Abi.EXEC, "num_threads"), threads);
  }

  public static int cpuDefaultThreads() {
    return Abi.cpuDefaultThreads();
  }

  public static boolean cudaCompiled() {
    return Abi.cudaCompiled();
  }

  public static int cudaDeviceCount() {
    return Abi.cudaDeviceCount();
  }

  /**
   * Runs one call. {@code logAlpha} is read, and for a training call with ROBUST weighting replaced by the
   * updated state. {@code grad} is ignored unless {@code train}.
   */
  public Outputs run(boolean train, Tokens tokens, MemorySegment refLogps, MemorySegment groupIds, MemorySegment grad,
                     double[] logAlpha) {
    int pairs = Math.toIntExact(tokens.rows() / 2);
    ensureCapacity(pairs);
    writeTokens(batch, 0, tokens);
    batch.set(ADDRESS, BATCH_REF_LOGPS, refLogps);
    batch.set(ADDRESS, BATCH_GROUP_IDS, groupIds);
    batch.set(ADDRESS, BATCH_GRAD, train ? grad : MemorySegment.NULL);
    batch.set(JAVA_LONG, BATCH_NUM_PAIRS, (long) pairs);

    MemorySegment.copy(logAlpha, 0, host, JAVA_DOUBLE, 0, groups);
    if (backend == BACKEND_CUDA) {
      Cuda.copy(device, host, 16L * groups, stream);
    }
    int status = Abi.call(() -> (int) (train ? Abi.LOSS_FORWARD_BACKWARD : Abi.LOSS_FORWARD)
        .invokeExact(options, batch, exec));
    Abi.check(status, train ? "grpo4j forwardBackward" : "grpo4j evaluate");
    if (backend == BACKEND_CUDA) {
      Cuda.copy(host, device, blockBytes(capacity), stream);
      Cuda.synchronize(stream);
      checkFlags(host.get(JAVA_INT, outputOffset(Abi.OUTPUT_FIELDS.length - 1)));
    }
    MemorySegment.copy(host, JAVA_DOUBLE, 0, logAlpha, 0, groups);
    return readOutputs(pairs);
  }

  /** Phase 1 (grpo4j_loss_statistics): pair outputs, group statistics, and the workspace for phase 3. */
  public Statistics statistics(Tokens tokens, MemorySegment refLogps, MemorySegment groupIds) {
    int pairs = Math.toIntExact(tokens.rows() / 2);
    ensureCapacity(pairs);
    writeTokens(batch, 0, tokens);
    batch.set(ADDRESS, BATCH_REF_LOGPS, refLogps);
    batch.set(ADDRESS, BATCH_GROUP_IDS, groupIds);
    batch.set(ADDRESS, BATCH_GRAD, MemorySegment.NULL);
    batch.set(JAVA_LONG, BATCH_NUM_PAIRS, (long) pairs);
    ensureWorkspace(Abi.call(() -> (long) Abi.WORKSPACE_BYTES.invokeExact(tokens.rows(), tokens.seqLen())));
    generation++;
    MemorySegment stats = groupStatsTarget();
    int status = Abi.call(() -> (int) Abi.LOSS_STATISTICS.invokeExact(options, batch, stats, workspace, exec));
    Abi.check(status, "grpo4j statistics");
    if (backend == BACKEND_CUDA) {
      Cuda.copy(host, device, blockBytes(capacity), stream);
      Cuda.copy(groupStats, stats, groupStats.byteSize(), stream);
      Cuda.synchronize(stream);
      checkFlags(flagsOf(host));
    }
    double[] result = new double[groups * GROUP_STATS];
    MemorySegment.copy(groupStats, JAVA_DOUBLE, 0, result, 0, result.length);
    float[][] pair = new float[PAIR_OUTPUTS][pairs];
    for (int i = 0; i < PAIR_OUTPUTS; i++) {
      MemorySegment.copy(host, JAVA_FLOAT, outputOffset(1 + i), pair[i], 0, pairs);
    }
    return new Statistics(result, pair, generation);
  }

  /**
   * Phase 2 (grpo4j_group_step) on group statistics {@code stats}; with {@code update}, {@code logAlpha} is replaced
   * by the updated state (ROBUST weighting).
   */
  public Step groupStep(double[] stats, boolean update, double[] logAlpha) {
    ensureCapacity(1);
    MemorySegment.copy(stats, 0, groupStats, JAVA_DOUBLE, 0, groups * GROUP_STATS);
    MemorySegment.copy(logAlpha, 0, host, JAVA_DOUBLE, 0, groups);
    MemorySegment statsTarget = groupStatsTarget();
    MemorySegment coefTarget = groupCoefTarget();
    if (backend == BACKEND_CUDA) {
      host.set(JAVA_INT, outputOffset(Abi.OUTPUT_FIELDS.length - 1), 0);
      Cuda.copy(device, host, blockBytes(capacity), stream);
      Cuda.copy(statsTarget, groupStats, groupStats.byteSize(), stream);
    }
    int status = Abi.call(() -> (int) Abi.GROUP_STEP.invokeExact(options, batch, statsTarget, update ? 1 : 0,
        coefTarget, exec));
    Abi.check(status, "grpo4j groupStep");
    if (backend == BACKEND_CUDA) {
      Cuda.copy(host, device, blockBytes(capacity), stream);
      Cuda.copy(groupCoef, coefTarget, groupCoef.byteSize(), stream);
      Cuda.synchronize(stream);
      checkGroupStepFlags(flagsOf(host));
    }
    MemorySegment.copy(host, JAVA_DOUBLE, 0, logAlpha, 0, groups);
    float[][] group = new float[GROUP_OUTPUTS][groups];
    for (int i = 0; i < GROUP_OUTPUTS; i++) {
      MemorySegment.copy(host, JAVA_FLOAT, outputOffset(1 + PAIR_OUTPUTS + i), group[i], 0, groups);
    }
    int[] counts = new int[groups];
    MemorySegment.copy(host, JAVA_INT, outputOffset(1 + PAIR_OUTPUTS + GROUP_OUTPUTS), counts, 0, groups);
    double[] coef = new double[groups];
    MemorySegment.copy(groupCoef, JAVA_DOUBLE, 0, coef, 0, groups);
    return new Step(host.get(JAVA_FLOAT, outputOffset(0)), group, counts, coef);
  }

  /** Phase 3 (grpo4j_logits_gradient) for the batch of the statistics call {@code statisticsGeneration}. */
  public void gradient(Tokens tokens, MemorySegment groupIds, MemorySegment grad, long statisticsGeneration,
                       double[] coef) {
    if (statisticsGeneration != generation) {
      throw new IllegalStateException("these statistics were overwritten by a later statistics call of the same loss: "
          + "compute a batch's gradient before the next batch's statistics");
    }
    writeTokens(batch, 0, tokens);
    batch.set(ADDRESS, BATCH_GROUP_IDS, groupIds);
    batch.set(ADDRESS, BATCH_GRAD, grad);
    batch.set(JAVA_LONG, BATCH_NUM_PAIRS, tokens.rows() / 2);
    MemorySegment.copy(coef, 0, groupCoef, JAVA_DOUBLE, 0, groups);
    MemorySegment coefTarget = groupCoefTarget();
    long flagsAt = outputOffset(Abi.OUTPUT_FIELDS.length - 1);
    if (backend == BACKEND_CUDA) {
      host.set(JAVA_INT, flagsAt, 0);
      Cuda.copy(device.asSlice(flagsAt), host.asSlice(flagsAt), 4, stream);
      Cuda.copy(coefTarget, groupCoef, groupCoef.byteSize(), stream);
    }
    int status = Abi.call(() -> (int) Abi.LOGITS_GRADIENT.invokeExact(batch, workspace, coefTarget, exec));
    Abi.check(status, "grpo4j gradient");
    if (backend == BACKEND_CUDA) {
      Cuda.copy(host.asSlice(flagsAt), device.asSlice(flagsAt), 4, stream);
      Cuda.synchronize(stream);
      checkFlags(flagsOf(host));
    }
  }

  /**
   * Phase 1 from sequence log-probs (grpo4j_sequence_statistics): {@code logps} and {@code tokenCounts} per row
   * (chosen rows, then rejected rows), the pairs' reference log-probs and group ids. The arrays are staged into
   * backend memory for the call.
   */
  public SequenceStatistics sequenceStatistics(float[] logps, int[] tokenCounts, float[] refLogps, int[] groupIds) {
    int pairs = groupIds.length;
    int rows = 2 * pairs;
    ensureCapacity(pairs);
    long countsAt = 4L * rows;
    long refAt = 8L * rows;
    long idsAt = 12L * rows;
    long dlossAt = (idsAt + 4L * pairs + 7) & ~7L;
    long bytes = dlossAt + 8L * rows;
    try (Arena call = Arena.ofConfined()) {
      MemorySegment staged = call.allocate(bytes, 16);
      MemorySegment.copy(logps, 0, staged, JAVA_FLOAT, 0, rows);
      MemorySegment.copy(tokenCounts, 0, staged, JAVA_INT, countsAt, rows);
      MemorySegment.copy(refLogps, 0, staged, JAVA_FLOAT, refAt, rows);
      MemorySegment.copy(groupIds, 0, staged, JAVA_INT, idsAt, pairs);
      MemorySegment target = backend == BACKEND_CUDA ? Cuda.malloc(bytes) : staged;
      try {
        if (backend == BACKEND_CUDA) {
          Cuda.copy(target, staged, bytes, stream);
        }
        batch.set(ADDRESS, BATCH_REF_LOGPS, target.asSlice(refAt));
        batch.set(ADDRESS, BATCH_GROUP_IDS, target.asSlice(idsAt));
        batch.set(ADDRESS, BATCH_GRAD, MemorySegment.NULL);
        batch.set(JAVA_LONG, BATCH_NUM_PAIRS, (long) pairs);
        MemorySegment stats = groupStatsTarget();
        MemorySegment logpsAt = target;
        MemorySegment counts = target.asSlice(countsAt);
        MemorySegment dloss = target.asSlice(dlossAt);
        int status = Abi.call(() -> (int) Abi.SEQUENCE_STATISTICS.invokeExact(options, batch, logpsAt, counts, stats,
            dloss, exec));
        Abi.check(status, "grpo4j sequence statistics");
        if (backend == BACKEND_CUDA) {
          Cuda.copy(host, device, blockBytes(capacity), stream);
          Cuda.copy(groupStats, stats, groupStats.byteSize(), stream);
          Cuda.copy(staged.asSlice(dlossAt), dloss, 8L * rows, stream);
          Cuda.synchronize(stream);
          checkFlags(flagsOf(host));
        }
      } finally {
        // The staged inputs die with this call's arena: no pointer into them may outlive it in the batch struct.
        batch.set(ADDRESS, BATCH_REF_LOGPS, MemorySegment.NULL);
        batch.set(ADDRESS, BATCH_GROUP_IDS, MemorySegment.NULL);
        if (backend == BACKEND_CUDA) {
          Cuda.free(target);
        }
      }
      double[] resultStats = new double[groups * GROUP_STATS];
      MemorySegment.copy(groupStats, JAVA_DOUBLE, 0, resultStats, 0, resultStats.length);
      float[][] pair = new float[PAIR_OUTPUTS][pairs];
      for (int i = 0; i < PAIR_OUTPUTS; i++) {
        MemorySegment.copy(host, JAVA_FLOAT, outputOffset(1 + i), pair[i], 0, pairs);
      }
      double[] dloss = new double[rows];
      MemorySegment.copy(staged, JAVA_DOUBLE, dlossAt, dloss, 0, rows);
      return new SequenceStatistics(resultStats, pair, dloss);
    }
  }

  /** dJ/ds_r per row (grpo4j_sequence_gradient) from phase 1's {@code dloss} and phase 2's coefficients. */
  public float[] sequenceGradient(int[] groupIds, double[] dloss, double[] coef) {
    int pairs = groupIds.length;
    int rows = 2 * pairs;
    ensureCapacity(pairs);
    long coefAt = 8L * rows;
    long rowCoefAt = coefAt + 8L * groups;
    long idsAt = rowCoefAt + 4L * rows;
    long bytes = idsAt + 4L * pairs;
    try (Arena call = Arena.ofConfined()) {
      MemorySegment staged = call.allocate(bytes, 16);
      MemorySegment.copy(dloss, 0, staged, JAVA_DOUBLE, 0, rows);
      MemorySegment.copy(coef, 0, staged, JAVA_DOUBLE, coefAt, groups);
      MemorySegment.copy(groupIds, 0, staged, JAVA_INT, idsAt, pairs);
      MemorySegment target = backend == BACKEND_CUDA ? Cuda.malloc(bytes) : staged;
      long flagsAt = outputOffset(Abi.OUTPUT_FIELDS.length - 1);
      try {
        if (backend == BACKEND_CUDA) {
          Cuda.copy(target, staged, bytes, stream);
          host.set(JAVA_INT, flagsAt, 0);
          Cuda.copy(device.asSlice(flagsAt), host.asSlice(flagsAt), 4, stream);
        }
        batch.set(ADDRESS, BATCH_GROUP_IDS, target.asSlice(idsAt));
        batch.set(JAVA_LONG, BATCH_NUM_PAIRS, (long) pairs);
        MemorySegment dlossAt = target;
        MemorySegment coefTarget = target.asSlice(coefAt);
        MemorySegment rowCoef = target.asSlice(rowCoefAt);
        int status = Abi.call(() -> (int) Abi.SEQUENCE_GRADIENT.invokeExact(batch, dlossAt, coefTarget, rowCoef,
            exec));
        Abi.check(status, "grpo4j sequence gradient");
        if (backend == BACKEND_CUDA) {
          Cuda.copy(staged.asSlice(rowCoefAt), rowCoef, 4L * rows, stream);
          Cuda.copy(host.asSlice(flagsAt), device.asSlice(flagsAt), 4, stream);
          Cuda.synchronize(stream);
          checkFlags(flagsOf(host));
        }
      } finally {
        batch.set(ADDRESS, BATCH_GROUP_IDS, MemorySegment.NULL);
        if (backend == BACKEND_CUDA) {
          Cuda.free(target);
        }
      }
      float[] result = new float[rows];
      MemorySegment.copy(staged, JAVA_FLOAT, rowCoefAt, result, 0, rows);
      return result;
    }
  }

  /**
   * grpo4j_token_logprobs: per-position log-probs of {@code tokens} into a Java array, softmax statistics into
   * {@code stats} (backend memory, 8 bytes per position).
   */
  public static float[] tokenLogProbs(int backend, int threads, long stream, Tokens tokens, MemorySegment stats) {
    long positions = tokens.rows() * tokens.seqLen();
    try (Arena call = Arena.ofConfined()) {
      MemorySegment tokenStruct = call.allocate(Abi.TOKENS);
      writeTokens(tokenStruct, 0, tokens);
      MemorySegment execStruct = execFor(call, backend, threads, stream);
      long bytes = 4L * positions + 4;
      MemorySegment host = call.allocate(bytes, 8);
      MemorySegment target = backend == BACKEND_CUDA ? Cuda.malloc(bytes) : host;
      try {
        MemorySegment logps = target;
        MemorySegment flags = target.asSlice(4L * positions);
        int status = Abi.call(() -> (int) Abi.TOKEN_LOGPROBS.invokeExact(tokenStruct, stats, logps, flags,
            execStruct));
        Abi.check(status, "grpo4j tokenLogProbs");
        if (backend == BACKEND_CUDA) {
          MemorySegment streamAddress = MemorySegment.ofAddress(stream);
          Cuda.copy(host, target, bytes, streamAddress);
          Cuda.synchronize(streamAddress);
          checkFlags(host.get(JAVA_INT, 4L * positions));
        }
      } finally {
        if (backend == BACKEND_CUDA) {
          Cuda.free(target);
        }
      }
      float[] result = new float[Math.toIntExact(positions)];
      MemorySegment.copy(host, JAVA_FLOAT, 0, result, 0, result.length);
      return result;
    }
  }

  /** grpo4j_token_gradient: {@code grad = coef[p] * (onehot - softmax)} from {@link #tokenLogProbs}' statistics. */
  public static void tokenGradient(int backend, int threads, long stream, Tokens tokens, MemorySegment stats,
                                   float[] coef, MemorySegment grad) {
    try (Arena call = Arena.ofConfined()) {
      MemorySegment tokenStruct = call.allocate(Abi.TOKENS);
      writeTokens(tokenStruct, 0, tokens);
      MemorySegment execStruct = execFor(call, backend, threads, stream);
      long bytes = 4L * coef.length;
      MemorySegment host = call.allocate(Math.max(bytes, 4), 8);
      MemorySegment.copy(coef, 0, host, JAVA_FLOAT, 0, coef.length);
      MemorySegment target = backend == BACKEND_CUDA ? Cuda.malloc(bytes) : host;
      try {
        MemorySegment streamAddress = MemorySegment.ofAddress(stream);
        if (backend == BACKEND_CUDA) {
          Cuda.copy(target, host, bytes, streamAddress);
        }
        MemorySegment coefficients = target;
        int status = Abi.call(() -> (int) Abi.TOKEN_GRADIENT.invokeExact(tokenStruct, stats, coefficients, grad,
            execStruct));
        Abi.check(status, "grpo4j tokenGradient");
        if (backend == BACKEND_CUDA) {
          Cuda.synchronize(streamAddress);
        }
      } finally {
        if (backend == BACKEND_CUDA) {
          Cuda.free(target);
        }
      }
    }
  }

  private static MemorySegment execFor(Arena arena, int backend, int threads, long stream) {
    MemorySegment execStruct = arena.allocate(Abi.EXEC);
    execStruct.set(ADDRESS, Abi.offset(Abi.EXEC, "stream"), MemorySegment.ofAddress(stream));
    execStruct.set(JAVA_INT, Abi.offset(Abi.EXEC, "backend"), backend);
    execStruct.set(JAVA_INT, Abi.offset(Abi.EXEC, "num_threads"), threads);
    return execStruct;
  }

  private int flagsOf(MemorySegment block) {
    return block.get(JAVA_INT, outputOffset(Abi.OUTPUT_FIELDS.length - 1));
  }

  private void ensureWorkspace(long bytes) {
    if (workspaceBytes >= bytes) {
      return;
    }
    if (backend == BACKEND_CUDA) {
      MemorySegment grown = Cuda.malloc(bytes);
      if (workspace.address() != 0) {
        Cuda.free(workspace);
      }
      workspace = grown;
    } else {
      workspace = arena.allocate(bytes, 16);
    }
    workspaceBytes = bytes;
  }

  /** Where the native calls read and write the group statistics: the host segment, or its device mirror. */
  private MemorySegment groupStatsTarget() {
    if (backend != BACKEND_CUDA) {
      return groupStats;
    }
    if (deviceGroupBuffers.address() == 0) {
      deviceGroupBuffers = Cuda.malloc(groupStats.byteSize() + groupCoef.byteSize());
    }
    return deviceGroupBuffers.asSlice(0, groupStats.byteSize());
  }

  private MemorySegment groupCoefTarget() {
    if (backend != BACKEND_CUDA) {
      return groupCoef;
    }
    groupStatsTarget();
    return deviceGroupBuffers.asSlice(groupStats.byteSize(), groupCoef.byteSize());
  }

  /** Masked sequence log-probs and token counts of every row. */
  public static float[] sequenceLogProbs(int backend, int threads, long stream, Tokens tokens, int[] tokenCounts) {
    int rows = Math.toIntExact(tokens.rows());
    long bytes = 8L * rows + 4;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment tokenStruct = arena.allocate(Abi.TOKENS);
      writeTokens(tokenStruct, 0, tokens);
      MemorySegment execStruct = execFor(arena, backend, threads, stream);
      MemorySegment streamAddress = MemorySegment.ofAddress(stream);
      MemorySegment host = arena.allocate(bytes, 8);
      MemorySegment target = backend == BACKEND_CUDA ? Cuda.malloc(bytes) : host;
      try {
        MemorySegment logps = target;
        MemorySegment counts = target.asSlice(4L * rows);
        MemorySegment flags = target.asSlice(8L * rows);
        int status = Abi.call(() -> (int) Abi.SEQUENCE_LOGPROBS.invokeExact(tokenStruct, logps, counts, flags,
            execStruct));
        Abi.check(status, "grpo4j sequenceLogProbs");
        if (backend == BACKEND_CUDA) {
          Cuda.copy(host, target, bytes, streamAddress);
          Cuda.synchronize(streamAddress);
          checkFlags(host.get(JAVA_INT, 8L * rows));
        }
      } finally {
        if (backend == BACKEND_CUDA) {
          Cuda.free(target);
        }
      }
      float[] result = new float[rows];
      MemorySegment.copy(host, JAVA_FLOAT, 0, result, 0, rows);
      if (tokenCounts != null) {
        MemorySegment.copy(host, JAVA_INT, 4L * rows, tokenCounts, 0, rows);
      }
      return result;
    }
  }

  @Override
  public void close() {
    if (backend == BACKEND_CUDA) {
      for (MemorySegment owned : new MemorySegment[] {device, workspace, deviceGroupBuffers}) {
        if (owned.address() != 0) {
          Cuda.free(owned);
        }
      }
      device = MemorySegment.NULL;
      workspace = MemorySegment.NULL;
      deviceGroupBuffers = MemorySegment.NULL;
    }
    arena.close();
  }

  private void writeOptions(Options o) {
    options.set(JAVA_DOUBLE, Abi.offset(Abi.OPTIONS, "beta"), o.beta());
    options.set(JAVA_DOUBLE, Abi.offset(Abi.OPTIONS, "label_smoothing"), o.labelSmoothing());
    options.set(JAVA_DOUBLE, Abi.offset(Abi.OPTIONS, "eta"), o.eta());
    options.set(JAVA_DOUBLE, Abi.offset(Abi.OPTIONS, "chi"), o.chi());
    options.set(JAVA_DOUBLE, Abi.offset(Abi.OPTIONS, "adjustment"), o.adjustment());
    options.set(JAVA_INT, Abi.offset(Abi.OPTIONS, "loss_type"), o.lossType());
    options.set(JAVA_INT, Abi.offset(Abi.OPTIONS, "weighting"), o.weighting());
    options.set(JAVA_INT, Abi.offset(Abi.OPTIONS, "group_norm"), o.groupNorm());
    options.set(JAVA_INT, Abi.offset(Abi.OPTIONS, "ipo_length_norm"), o.ipoLengthNorm() ? 1 : 0);
  }

  private static void writeTokens(MemorySegment struct, long base, Tokens t) {
    struct.set(ADDRESS, base + TOKENS_LOGITS, t.logits());
    struct.set(ADDRESS, base + TOKENS_LABELS, t.labels());
    struct.set(JAVA_LONG, base + TOKENS_ROWS, t.rows());
    struct.set(JAVA_LONG, base + TOKENS_SEQ_LEN, t.seqLen());
    struct.set(JAVA_LONG, base + TOKENS_VOCAB, t.vocab());
    struct.set(JAVA_INT, base + TOKENS_LOGITS_TYPE, t.logitsType());
    struct.set(JAVA_INT, base + TOKENS_LABEL_TYPE, t.labelType());
  }

  private void ensureCapacity(int pairs) {
    if (host != null && pairs <= capacity) {
      return;
    }
    int newCapacity = Math.max(pairs, Math.max(16, capacity * 2));
    long bytes = blockBytes(newCapacity);
    MemorySegment newHost = arena.allocate(bytes, 8);
    MemorySegment.copy(groupSizes, 0, newHost, JAVA_LONG, 8L * groups, groups);
    if (backend == BACKEND_CUDA) {
      MemorySegment newDevice = Cuda.malloc(bytes);
      // The phase calls bring the whole block back after a kernel: the device copy must hold the group sizes
      // (and defined bytes everywhere) from the start, or that copy overwrites the host's with uninitialised memory.
      Cuda.copy(newDevice, newHost, bytes, stream);
      if (device.address() != 0) {
        Cuda.free(device);
      }
      device = newDevice;
    }
    host = newHost;
    capacity = newCapacity;
    pointBatchAtBlock();
  }

  /** The batch fields that only change with the staging block: state, group sizes and output pointers. */
  private void pointBatchAtBlock() {
    MemorySegment block = backend == BACKEND_CUDA ? device : host;
    batch.set(ADDRESS, BATCH_GROUP_SIZES, block.asSlice(groupSizesOffset()));
    batch.set(ADDRESS, BATCH_LOG_ALPHA, block);
    batch.set(JAVA_INT, BATCH_NUM_GROUPS, groups);
    batch.set(JAVA_INT, BATCH_RESERVED, 0);
    for (int i = 0; i < Abi.OUTPUT_FIELDS.length; i++) {
      batch.set(ADDRESS, BATCH_OUT + (long) i * ADDRESS.byteSize(), block.asSlice(outputOffset(i)));
    }
  }

  private long groupSizesOffset() {
    return 8L * groups;
  }

  /** Offset of output field i (grpo4j_outputs order) in the staging block at the current capacity. */
  private long outputOffset(int field) {
    long offset = 16L * groups;
    if (field == 0) {
      return offset;
    }
    offset += 4;
    if (field <= PAIR_OUTPUTS) {
      return offset + 4L * capacity * (field - 1);
    }
    offset += 4L * capacity * PAIR_OUTPUTS;
    // Group outputs, then group_count, then flags: all K-long 4-byte arrays except flags.
    return offset + 4L * groups * (field - 1 - PAIR_OUTPUTS);
  }

  private long blockBytes(int pairCapacity) {
    return 16L * groups + 4 + 4L * pairCapacity * PAIR_OUTPUTS + 4L * groups * (GROUP_OUTPUTS + 1) + 4;
  }

  private Outputs readOutputs(int pairs) {
    float loss = host.get(JAVA_FLOAT, outputOffset(0));
    float[][] pair = new float[PAIR_OUTPUTS][pairs];
    for (int i = 0; i < PAIR_OUTPUTS; i++) {
      MemorySegment.copy(host, JAVA_FLOAT, outputOffset(1 + i), pair[i], 0, pairs);
    }
    float[][] group = new float[GROUP_OUTPUTS][groups];
    for (int i = 0; i < GROUP_OUTPUTS; i++) {
      MemorySegment.copy(host, JAVA_FLOAT, outputOffset(1 + PAIR_OUTPUTS + i), group[i], 0, groups);
    }
    int[] counts = new int[groups];
    MemorySegment.copy(host, JAVA_INT, outputOffset(1 + PAIR_OUTPUTS + GROUP_OUTPUTS), counts, 0, groups);
    return new Outputs(loss, pair, group, counts);
  }

  /** CUDA kernels report input problems through flags; turn them into the exception the CPU path throws. */
  private static void checkFlags(int flags) {
    if (flags == 0) {
      return;
    }
    List<String> problems = new ArrayList<>();
    if ((flags & Abi.FLAG_NON_FINITE) != 0) {
      problems.add("logits contain NaN or infinity at a labelled position");
    }
    if ((flags & Abi.FLAG_LABEL_RANGE) != 0) {
      problems.add("labels hold a value outside [0, vocab) that is not -100");
    }
    if ((flags & Abi.FLAG_GROUP_RANGE) != 0) {
      problems.add("groupIds hold a value outside [0, numGroups)");
    }
    if ((flags & Abi.FLAG_GROUP_SIZE) != 0) {
      problems.add("groupSizes hold a value < 1");
    }
    if ((flags & Abi.FLAG_GRAD_RANGE) != 0) {
      problems.add("the gradient does not fit f16: a row's coefficient dJ/ds reaches f16's largest value 65504, so "
          + "dJ/dlogits would hold infinities; use bf16 or f32 logits, or scale the loss down");
    }
    if ((flags & Abi.FLAG_GROUP_STATS) != 0) {
      problems.add("the group statistics are not finite (a batch whose inputs a kernel rejected, on this rank or "
          + "another), or their pair counts are not whole numbers >= 0 adding up to at least one pair");
    }
    String message = "grpo4j CUDA kernel rejected its inputs: " + String.join("; ", problems)
        + " (the group weights were not updated)";
    throw flags == Abi.FLAG_NON_FINITE ? new NonFiniteInputException(message) : new IllegalArgumentException(message);
  }

  /** As {@link #checkFlags}, where non-finite statistics are the usual sign of a poisoned batch. */
  private static void checkGroupStepFlags(int flags) {
    if (flags == Abi.FLAG_GROUP_STATS) {
      throw new NonFiniteInputException("grpo4j CUDA group step: the group statistics are not finite or count no "
          + "pairs (a batch whose inputs a kernel rejected, on this rank or another, poisons them); the group weights "
          + "were not updated");
    }
    checkFlags(flags);
  }
}
