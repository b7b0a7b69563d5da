package dev.grpo4j.ffm;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The token passes, which need no loss configuration: per-position log-probs with softmax statistics, the
 * gradient from those statistics, and masked sequence log-probs. Each call stages its small inputs and outputs
 * through a {@link CallBuffer}, on CUDA in its thread's {@link DeviceScratch}. Not part of the public API;
 * {@code dev.grpo4j.TokenPasses} and {@code dev.grpo4j.SequenceLogProbs} wrap it.
 */
public final class TokenKernels {
  // Struct offsets, resolved once: resolving them by name costs ~0.1 us each, on every call otherwise.
  private static final long TOKENS_LOGITS = Abi.offset(Abi.TOKENS, "logits");
  private static final long TOKENS_LABELS = Abi.offset(Abi.TOKENS, "labels");
  private static final long TOKENS_ROWS = Abi.offset(Abi.TOKENS, "rows");
  private static final long TOKENS_SEQ_LEN = Abi.offset(Abi.TOKENS, "seq_len");
  private static final long TOKENS_VOCAB = Abi.offset(Abi.TOKENS, "vocab");
  private static final long TOKENS_LOGITS_TYPE = Abi.offset(Abi.TOKENS, "logits_type");
  private static final long TOKENS_LABEL_TYPE = Abi.offset(Abi.TOKENS, "label_type");

  /** Each thread's device staging for its token passes on CUDA, kept between calls. */
  private static final ThreadLocal<DeviceScratch> SCRATCH = ThreadLocal.withInitial(DeviceScratch::new);

  private TokenKernels() {}

  /** Token-level inputs, as grpo4j_tokens; segments hold host or device addresses per backend. */
  public record Tokens(MemorySegment logits, MemorySegment labels, long rows, long seqLen, long vocab, int logitsType,
                       int labelType) {}

  /**
   * grpo4j_token_logprobs: per-position log-probs of {@code tokens} into a Java array, softmax statistics into
   * {@code stats} (backend memory, 8 bytes per position).
   */
  public static float[] tokenLogProbs(int backend, int threads, long stream, Tokens tokens, MemorySegment stats) {
    long positions = tokens.rows() * tokens.seqLen();
    long bytes = 4L * positions + 4;
    try (Arena call = Arena.ofConfined()) {
      CallBuffer buffer = new CallBuffer(call, bytes, scratch(backend), MemorySegment.ofAddress(stream));
      MemorySegment tokenStruct = tokens(call, tokens);
      MemorySegment execStruct = exec(call, backend, threads, stream);
      MemorySegment logps = buffer.target(0);
      MemorySegment flags = buffer.target(4L * positions);
      int status = Abi.call(() -> (int) Abi.TOKEN_LOGPROBS.invokeExact(tokenStruct, stats, logps, flags,
          execStruct));
      Abi.check(status, "grpo4j tokenLogProbs");
      buffer.download(0, bytes);
      synchronizeAndCheck(backend, stream, buffer.host().get(JAVA_INT, 4L * positions));
      float[] result = new float[Math.toIntExact(positions)];
      MemorySegment.copy(buffer.host(), JAVA_FLOAT, 0, result, 0, result.length);
      return result;
    }
  }

  /** grpo4j_token_gradient: {@code grad = coef[p] * (onehot - softmax)} from {@link #tokenLogProbs}' statistics. */
  public static void tokenGradient(int backend, int threads, long stream, Tokens tokens, MemorySegment stats,
                                   float[] coef, MemorySegment grad) {
    long bytes = 4L * coef.length;
    try (Arena call = Arena.ofConfined()) {
      CallBuffer buffer = new CallBuffer(call, bytes, scratch(backend), MemorySegment.ofAddress(stream));
      MemorySegment.copy(coef, 0, buffer.host(), JAVA_FLOAT, 0, coef.length);
      buffer.upload(bytes);
      tokenGradient(backend, threads, stream, tokens, stats, buffer.target(0), grad);
    }
  }

  /**
   * As {@link #tokenGradient(int, int, long, Tokens, MemorySegment, float[], MemorySegment)}, with the coefficients
   * already in backend memory.
   */
  public static void tokenGradient(int backend, int threads, long stream, Tokens tokens, MemorySegment stats,
                                   MemorySegment coefficients, MemorySegment grad) {
    try (Arena call = Arena.ofConfined()) {
      MemorySegment tokenStruct = tokens(call, tokens);
      MemorySegment execStruct = exec(call, backend, threads, stream);
      int status = Abi.call(() -> (int) Abi.TOKEN_GRADIENT.invokeExact(tokenStruct, stats, coefficients, grad,
          execStruct));
      Abi.check(status, "grpo4j tokenGradient");
      if (isCuda(backend)) {
        Cuda.synchronize(MemorySegment.ofAddress(stream));
      }
    }
  }

  /** Masked sequence log-probs and, into {@code tokenCounts} unless null, token counts of every row. */
  public static float[] sequenceLogProbs(int backend, int threads, long stream, Tokens tokens, int[] tokenCounts) {
    int rows = Math.toIntExact(tokens.rows());
    long bytes = 8L * rows + 4;
    try (Arena call = Arena.ofConfined()) {
      CallBuffer buffer = new CallBuffer(call, bytes, scratch(backend), MemorySegment.ofAddress(stream));
      MemorySegment tokenStruct = tokens(call, tokens);
      MemorySegment execStruct = exec(call, backend, threads, stream);
      MemorySegment logps = buffer.target(0);
      MemorySegment counts = buffer.target(4L * rows);
      MemorySegment flags = buffer.target(8L * rows);
      int status = Abi.call(() -> (int) Abi.SEQUENCE_LOGPROBS.invokeExact(tokenStruct, logps, counts, flags,
          execStruct));
      Abi.check(status, "grpo4j sequenceLogProbs");
      buffer.download(0, bytes);
      synchronizeAndCheck(backend, stream, buffer.host().get(JAVA_INT, 8L * rows));
      float[] result = new float[rows];
      MemorySegment.copy(buffer.host(), JAVA_FLOAT, 0, result, 0, rows);
      if (tokenCounts != null) {
        MemorySegment.copy(buffer.host(), JAVA_INT, 4L * rows, tokenCounts, 0, rows);
      }
      return result;
    }
  }

  /** On CUDA, waits for the stream and throws for the flags the kernels raised (the CPU backends throw directly). */
  private static void synchronizeAndCheck(int backend, long stream, int flags) {
    if (isCuda(backend)) {
      Cuda.synchronize(MemorySegment.ofAddress(stream));
      KernelFlags.check(flags);
    }
  }

  private static DeviceScratch scratch(int backend) {
    return isCuda(backend) ? SCRATCH.get() : null;
  }

  static boolean isCuda(int backend) {
    return backend == LossKernel.BACKEND_CUDA;
  }

  static MemorySegment exec(Arena arena, int backend, int threads, long stream) {
    MemorySegment exec = arena.allocate(Abi.EXEC);
    exec.set(ADDRESS, Abi.offset(Abi.EXEC, "stream"), MemorySegment.ofAddress(stream));
    exec.set(JAVA_INT, Abi.offset(Abi.EXEC, "backend"), backend);
    exec.set(JAVA_INT, Abi.offset(Abi.EXEC, "num_threads"), threads);
    return exec;
  }

  private static MemorySegment tokens(Arena arena, Tokens tokens) {
    MemorySegment struct = arena.allocate(Abi.TOKENS);
    write(struct, tokens);
    return struct;
  }

  /** Fills a grpo4j_tokens struct. */
  static void write(MemorySegment struct, Tokens t) {
    struct.set(ADDRESS, TOKENS_LOGITS, t.logits());
    struct.set(ADDRESS, TOKENS_LABELS, t.labels());
    struct.set(JAVA_LONG, TOKENS_ROWS, t.rows());
    struct.set(JAVA_LONG, TOKENS_SEQ_LEN, t.seqLen());
    struct.set(JAVA_LONG, TOKENS_VOCAB, t.vocab());
    struct.set(JAVA_INT, TOKENS_LOGITS_TYPE, t.logitsType());
    struct.set(JAVA_INT, TOKENS_LABEL_TYPE, t.labelType());
  }
}
