package dev.grpo4j.ffm;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.grpo4j.ffm.TokenKernels.Tokens;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One configured loss on one backend: the option, batch and exec structs, the staging block of its small outputs
 * ({@link OutputBlock}), the group statistics and coefficients between its phases ({@link GroupBuffers}), the
 * phase-3 workspace and the sequence route's staging ({@link DeviceScratch}); on CUDA each has a device copy, and a
 * call moves what it needs in one copy each way. The calls are the whole loss ({@link #run}), its three phases on
 * logits, and the sequence route's two. Not part of the public API; {@code dev.grpo4j.GroupRobustLoss} wraps it. Not
 * thread-safe: the caller serialises calls.
 */
public final class LossKernel implements AutoCloseable {
  /** Backend codes of grpo4j_backend. */
  public static final int BACKEND_CPU = 0;
  public static final int BACKEND_CUDA = 1;
  public static final int BACKEND_REFERENCE = 2;

  /** Columns of the group statistics (GRPO4J_GROUP_STATS). */
  public static final int GROUP_STATS = Abi.GROUP_STATS;

  private static final long BATCH_REF_LOGPS = Abi.offset(Abi.BATCH, "ref_logps");
  private static final long BATCH_GROUP_IDS = Abi.offset(Abi.BATCH, "group_ids");
  private static final long BATCH_GROUP_SIZES = Abi.offset(Abi.BATCH, "group_sizes");
  private static final long BATCH_LOG_ALPHA = Abi.offset(Abi.BATCH, "log_alpha");
  private static final long BATCH_GRAD = Abi.offset(Abi.BATCH, "grad");
  private static final long BATCH_NUM_PAIRS = Abi.offset(Abi.BATCH, "num_pairs");
  private static final long BATCH_NUM_GROUPS = Abi.offset(Abi.BATCH, "num_groups");
  private static final long BATCH_RESERVED = Abi.offset(Abi.BATCH, "reserved");
  private static final long BATCH_OUT = Abi.offset(Abi.BATCH, "out");

  /** Scalar options, as grpo4j_options; {@code termCodes}/{@code termWeights}: the loss terms, 1 to 4 of them. */
  public record Options(double beta, double labelSmoothing, double eta, double chi, double adjustment,
                        int[] termCodes, double[] termWeights, int weighting, int groupNorm, boolean ipoLengthNorm,
                        int fDivergence, double fAlpha, double discopopTau, double simpoGamma) {}

  /** GRPO4J_MAX_LOSS_TERMS: how many losses a mixture may hold. */
  public static final int MAX_LOSS_TERMS = Abi.MAX_LOSS_TERMS;

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

  private final Arena arena = Arena.ofShared();
  private final boolean cuda;
  private final MemorySegment stream;
  private final MemorySegment options;
  private final MemorySegment batch;
  private final MemorySegment exec;
  private final OutputBlock block;
  private final GroupBuffers groupBuffers;
  private final DeviceScratch scratch;
  private MemorySegment workspace = MemorySegment.NULL;
  private long workspaceBytes;
  private long generation;

  public LossKernel(int backend, int threads, long stream, int groups, long[] groupSizes, Options options) {
    this.cuda = TokenKernels.isCuda(backend);
    this.stream = MemorySegment.ofAddress(stream);
    this.options = arena.allocate(Abi.OPTIONS);
    this.batch = arena.allocate(Abi.BATCH);
    this.exec = TokenKernels.exec(arena, backend, threads, stream);
    this.block = new OutputBlock(arena, cuda, this.stream, groups, groupSizes);
    this.groupBuffers = new GroupBuffers(arena, cuda, this.stream, groups);
    this.scratch = cuda ? new DeviceScratch() : null;
    writeOptions(options);
    batch.set(JAVA_INT, BATCH_NUM_GROUPS, groups);
    batch.set(JAVA_INT, BATCH_RESERVED, 0);
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
    pointBatch(pairs, tokens, refLogps, groupIds, train ? grad : MemorySegment.NULL);
    block.putLogAlpha(logAlpha);
    block.uploadGroupState();
    int status = Abi.call(() -> (int) (train ? Abi.LOSS_FORWARD_BACKWARD : Abi.LOSS_FORWARD)
        .invokeExact(options, batch, exec));
    Abi.check(status, train ? "grpo4j forwardBackward" : "grpo4j evaluate");
    block.download();
    finish(false);
    block.getLogAlpha(logAlpha);
    return new Outputs(block.loss(), block.pairOutputs(pairs), block.groupOutputs(), block.groupCounts());
  }

  /** Phase 1 (grpo4j_loss_statistics): pair outputs, group statistics, and the workspace for phase 3. */
  public Statistics statistics(Tokens tokens, MemorySegment refLogps, MemorySegment groupIds) {
    int pairs = Math.toIntExact(tokens.rows() / 2);
    pointBatch(pairs, tokens, refLogps, groupIds, MemorySegment.NULL);
    ensureWorkspace(Abi.call(() -> (long) Abi.WORKSPACE_BYTES.invokeExact(tokens.rows(), tokens.seqLen())));
    generation++;
    MemorySegment stats = groupBuffers.statsTarget();
    int status = Abi.call(() -> (int) Abi.LOSS_STATISTICS.invokeExact(options, batch, stats, workspace, exec));
    Abi.check(status, "grpo4j statistics");
    block.download();
    groupBuffers.downloadStats();
    finish(false);
    return new Statistics(groupBuffers.stats(), block.pairOutputs(pairs), generation);
  }

  /**
   * Phase 2 (grpo4j_group_step) on group statistics {@code stats}; with {@code update}, {@code logAlpha} is replaced
   * by the updated state (ROBUST weighting).
   */
  public Step groupStep(double[] stats, boolean update, double[] logAlpha) {
    ensureCapacity(1);
    groupBuffers.putStats(stats);
    block.putLogAlpha(logAlpha);
    MemorySegment statsTarget = groupBuffers.statsTarget();
    MemorySegment coefTarget = groupBuffers.coefTarget();
    if (cuda) {
      block.clearHostFlags();
    }
    block.upload();
    groupBuffers.uploadStats();
    int status = Abi.call(() -> (int) Abi.GROUP_STEP.invokeExact(options, batch, statsTarget, update ? 1 : 0,
        coefTarget, exec));
    Abi.check(status, "grpo4j groupStep");
    block.download();
    groupBuffers.downloadCoef();
    finish(true);
    block.getLogAlpha(logAlpha);
    return new Step(block.loss(), block.groupOutputs(), block.groupCounts(), groupBuffers.coef());
  }

  /** Phase 3 (grpo4j_logits_gradient) for the batch of the statistics call {@code statisticsGeneration}. */
  public void gradient(Tokens tokens, MemorySegment groupIds, MemorySegment grad, long statisticsGeneration,
                       double[] coef) {
    if (statisticsGeneration != generation) {
      throw new IllegalStateException("these statistics were overwritten by a later statistics call of the same loss: "
          + "compute a batch's gradient before the next batch's statistics");
    }
    TokenKernels.write(batch, tokens);
    batch.set(ADDRESS, BATCH_GROUP_IDS, groupIds);
    batch.set(ADDRESS, BATCH_GRAD, grad);
    batch.set(JAVA_LONG, BATCH_NUM_PAIRS, tokens.rows() / 2);
    groupBuffers.putCoef(coef);
    MemorySegment coefTarget = groupBuffers.coefTarget();
    block.clearFlags();
    groupBuffers.uploadCoef();
    int status = Abi.call(() -> (int) Abi.LOGITS_GRADIENT.invokeExact(batch, workspace, coefTarget, exec));
    Abi.check(status, "grpo4j gradient");
    block.downloadFlags();
    finish(false);
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
      CallBuffer staged = new CallBuffer(call, bytes, scratch, stream);
      MemorySegment.copy(logps, 0, staged.host(), JAVA_FLOAT, 0, rows);
      MemorySegment.copy(tokenCounts, 0, staged.host(), JAVA_INT, countsAt, rows);
      MemorySegment.copy(refLogps, 0, staged.host(), JAVA_FLOAT, refAt, rows);
      MemorySegment.copy(groupIds, 0, staged.host(), JAVA_INT, idsAt, pairs);
      staged.upload(bytes);
      try {
        batch.set(ADDRESS, BATCH_REF_LOGPS, staged.target(refAt));
        batch.set(ADDRESS, BATCH_GROUP_IDS, staged.target(idsAt));
        batch.set(ADDRESS, BATCH_GRAD, MemorySegment.NULL);
        batch.set(JAVA_LONG, BATCH_NUM_PAIRS, (long) pairs);
        MemorySegment stats = groupBuffers.statsTarget();
        MemorySegment logpsAt = staged.target(0);
        MemorySegment counts = staged.target(countsAt);
        MemorySegment dloss = staged.target(dlossAt);
        int status = Abi.call(() -> (int) Abi.SEQUENCE_STATISTICS.invokeExact(options, batch, logpsAt, counts, stats,
            dloss, exec));
        Abi.check(status, "grpo4j sequence statistics");
        block.download();
        groupBuffers.downloadStats();
        staged.download(dlossAt, 8L * rows);
        finish(false);
      } finally {
        // The staged inputs die with this call: no pointer into them may outlive it in the batch struct.
        batch.set(ADDRESS, BATCH_REF_LOGPS, MemorySegment.NULL);
        batch.set(ADDRESS, BATCH_GROUP_IDS, MemorySegment.NULL);
      }
      double[] dloss = new double[rows];
      MemorySegment.copy(staged.host(), JAVA_DOUBLE, dlossAt, dloss, 0, rows);
      return new SequenceStatistics(groupBuffers.stats(), block.pairOutputs(pairs), dloss);
    }
  }

  /** dJ/ds_r per row (grpo4j_sequence_gradient) from phase 1's {@code dloss} and phase 2's coefficients. */
  public float[] sequenceGradient(int[] groupIds, double[] dloss, double[] coef) {
    return sequenceGradient(groupIds, dloss, coef, null);
  }

  /**
   * As {@link #sequenceGradient(int[], double[], double[])}, written into {@code rowCoef} (backend memory, f32 per
   * row) where it is not null, and then null is returned: on CUDA the result stays on the device.
   */
  public float[] sequenceGradient(int[] groupIds, double[] dloss, double[] coef, MemorySegment rowCoef) {
    int pairs = groupIds.length;
    int rows = 2 * pairs;
    ensureCapacity(pairs);
    long coefAt = 8L * rows;
    long rowCoefAt = coefAt + 8L * coef.length;
    long idsAt = rowCoefAt + 4L * rows;
    long bytes = idsAt + 4L * pairs;
    try (Arena call = Arena.ofConfined()) {
      CallBuffer staged = new CallBuffer(call, bytes, scratch, stream);
      MemorySegment.copy(dloss, 0, staged.host(), JAVA_DOUBLE, 0, rows);
      MemorySegment.copy(coef, 0, staged.host(), JAVA_DOUBLE, coefAt, coef.length);
      MemorySegment.copy(groupIds, 0, staged.host(), JAVA_INT, idsAt, pairs);
      staged.upload(bytes);
      block.clearFlags();
      try {
        batch.set(ADDRESS, BATCH_GROUP_IDS, staged.target(idsAt));
        batch.set(JAVA_LONG, BATCH_NUM_PAIRS, (long) pairs);
        MemorySegment dlossAt = staged.target(0);
        MemorySegment coefTarget = staged.target(coefAt);
        MemorySegment rowTarget = rowCoef != null ? rowCoef : staged.target(rowCoefAt);
        int status = Abi.call(() -> (int) Abi.SEQUENCE_GRADIENT.invokeExact(batch, dlossAt, coefTarget, rowTarget,
            exec));
        Abi.check(status, "grpo4j sequence gradient");
        if (rowCoef == null) {
          staged.download(rowCoefAt, 4L * rows);
        }
        block.downloadFlags();
        finish(false);
      } finally {
        batch.set(ADDRESS, BATCH_GROUP_IDS, MemorySegment.NULL);
      }
      if (rowCoef != null) {
        return null;
      }
      float[] result = new float[rows];
      MemorySegment.copy(staged.host(), JAVA_FLOAT, rowCoefAt, result, 0, rows);
      return result;
    }
  }

  @Override
  public void close() {
    block.close();
    groupBuffers.close();
    if (scratch != null) {
      scratch.close();
    }
    if (cuda && workspace.address() != 0) {
      Cuda.free(workspace);
    }
    workspace = MemorySegment.NULL;
    arena.close();
  }

  /** The batch struct for a call on {@code pairs} pairs of {@code tokens}. */
  private void pointBatch(int pairs, Tokens tokens, MemorySegment refLogps, MemorySegment groupIds,
                          MemorySegment grad) {
    ensureCapacity(pairs);
    TokenKernels.write(batch, tokens);
    batch.set(ADDRESS, BATCH_REF_LOGPS, refLogps);
    batch.set(ADDRESS, BATCH_GROUP_IDS, groupIds);
    batch.set(ADDRESS, BATCH_GRAD, grad);
    batch.set(JAVA_LONG, BATCH_NUM_PAIRS, (long) pairs);
  }

  /** Room for {@code pairs} in the staging block; the batch's state and output pointers follow it when it moves. */
  private void ensureCapacity(int pairs) {
    if (!block.ensureCapacity(pairs)) {
      return;
    }
    MemorySegment target = block.target();
    batch.set(ADDRESS, BATCH_GROUP_SIZES, target.asSlice(block.groupSizesOffset()));
    batch.set(ADDRESS, BATCH_LOG_ALPHA, target);
    for (int i = 0; i < Abi.OUTPUT_FIELDS.length; i++) {
      batch.set(ADDRESS, BATCH_OUT + (long) i * ADDRESS.byteSize(), target.asSlice(block.outputOffset(i)));
    }
  }

  /** On CUDA, waits for the call's copies and throws for the flags its kernels raised. */
  private void finish(boolean groupStep) {
    if (!cuda) {
      return;
    }
    Cuda.synchronize(stream);
    if (groupStep) {
      KernelFlags.checkGroupStep(block.flags());
    } else {
      KernelFlags.check(block.flags());
    }
  }

  private void ensureWorkspace(long bytes) {
    if (workspaceBytes >= bytes) {
      return;
    }
    if (cuda) {
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

  private void writeOptions(Options o) {
    options.set(JAVA_DOUBLE, Abi.offset(Abi.OPTIONS, "beta"), o.beta());
    options.set(JAVA_DOUBLE, Abi.offset(Abi.OPTIONS, "label_smoothing"), o.labelSmoothing());
    options.set(JAVA_DOUBLE, Abi.offset(Abi.OPTIONS, "eta"), o.eta());
    options.set(JAVA_DOUBLE, Abi.offset(Abi.OPTIONS, "chi"), o.chi());
    options.set(JAVA_DOUBLE, Abi.offset(Abi.OPTIONS, "adjustment"), o.adjustment());
    options.set(JAVA_INT, Abi.offset(Abi.OPTIONS, "loss_type"), o.termCodes()[0]);
    options.set(JAVA_INT, Abi.offset(Abi.OPTIONS, "num_terms"), o.termCodes().length);
    long weights = Abi.offset(Abi.OPTIONS, "term_weights");
    long types = Abi.offset(Abi.OPTIONS, "term_types");
    for (int t = 0; t < o.termCodes().length; t++) {
      options.set(JAVA_DOUBLE, weights + 8L * t, o.termWeights()[t]);
      options.set(JAVA_INT, types + 4L * t, o.termCodes()[t]);
    }
    options.set(JAVA_INT, Abi.offset(Abi.OPTIONS, "f_divergence"), o.fDivergence());
    options.set(JAVA_DOUBLE, Abi.offset(Abi.OPTIONS, "f_alpha"), o.fAlpha());
    options.set(JAVA_DOUBLE, Abi.offset(Abi.OPTIONS, "discopop_tau"), o.discopopTau());
    options.set(JAVA_DOUBLE, Abi.offset(Abi.OPTIONS, "simpo_gamma"), o.simpoGamma());
    options.set(JAVA_INT, Abi.offset(Abi.OPTIONS, "weighting"), o.weighting());
    options.set(JAVA_INT, Abi.offset(Abi.OPTIONS, "group_norm"), o.groupNorm());
    options.set(JAVA_INT, Abi.offset(Abi.OPTIONS, "ipo_length_norm"), o.ipoLengthNorm() ? 1 : 0);
  }
}
