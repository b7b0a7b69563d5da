package dev.grpo4j;

import dev.grpo4j.ffm.TokenKernels;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;

/**
 * The loss's two passes over logits at token level, for a caller that forms the logits a chunk of tokens at a time
 * and never holds them all (a fused LM head: {@code logits_c = X_c W^T}). Every position of the chunk stands on its
 * own: {@link #logProbs} reads the chunk once and returns each position's log-prob of its label, keeping 8 bytes per
 * position of softmax statistics; after the group step has turned the rows' log-probs into coefficients
 * ({@link GroupRobustLoss#statistics(SequenceBatch)}, {@link GroupRobustLoss#groupStep},
 * {@link GroupRobustLoss#sequenceGradient}), {@link #gradient} turns the same (recomputed) chunk into
 * {@code dJ/dlogits = coef * (onehot - softmax)}, in place if asked. Labels {@code -100} mask a position: log-prob 0,
 * gradient 0.
 */
public final class TokenPasses {
  private TokenPasses() {}

  /** Bytes of softmax statistics {@link #logProbs} keeps for {@code positions} positions (8-byte aligned). */
  public static long statisticsBytes(long positions) {
    if (positions < 0) {
      throw new IllegalArgumentException("positions = " + positions + ": must be >= 0");
    }
    return 8 * positions;
  }

  /**
   * Log-probs of every position's label (0 where masked), row-major over {@code tokens}' rows and positions, and
   * their softmax statistics into {@code statistics} ({@link #statisticsBytes} bytes, 8-byte aligned, in
   * {@code backend}'s memory).
   *
   * @param threads CPU threads, 0 for all cores
   * @param cudaStream cudaStream_t address for {@link Backend#CUDA}; the call waits for it
   * @throws IllegalArgumentException for labels outside {@code [0, V)} other than -100, or bad segments
   * @throws NonFiniteInputException for a non-finite log-softmax at a labelled position
   */
  public static float[] logProbs(TokenLogits tokens, MemorySegment statistics, Backend backend, int threads,
                                 long cudaStream) {
    prepare(tokens, backend, threads);
    long positions = positions(tokens);
    Segments.require(statistics, "statistics", statisticsBytes(positions), 8, backend, true);
    requireApart(tokens, statistics, positions, null, 0);
    return TokenKernels.tokenLogProbs(backend.abiCode(), threads, cudaStream, GroupRobustLoss.kernelTokens(tokens),
        statistics);
  }

  /**
   * Writes {@code grad[p][v] = coefficients[p] * (onehot(label_p)[v] - softmax(z[p])[v])} for every position, zero
   * where masked, from the statistics {@link #logProbs} kept for these same logits. {@code grad} has the logits'
   * shape and type and may be the logits segment itself.
   *
   * @param statistics the segment that {@link #logProbs} filled for these same logits, unchanged since: its
   *     softmax statistics are read, not recomputed, so statistics of other logits give a wrong gradient without
   *     an error (only their size can be checked)
   * @param coefficients {@code dJ/ds} of each position's row, one per position (finite)
   */
  public static void gradient(TokenLogits tokens, MemorySegment statistics, float[] coefficients, MemorySegment grad,
                              Backend backend, int threads, long cudaStream) {
    prepare(tokens, backend, threads);
    long positions = positions(tokens);
    Objects.requireNonNull(coefficients, "coefficients");
    if (coefficients.length != positions) {
      throw new IllegalArgumentException("coefficients hold " + coefficients.length + " values but tokens have "
          + positions + " positions: pass one per position");
    }
    for (int p = 0; p < coefficients.length; p++) {
      if (!Float.isFinite(coefficients[p])) {
        throw new NonFiniteInputException("coefficients[" + p + "] = " + coefficients[p] + ": must be finite");
      }
    }
    Segments.require(statistics, "statistics", statisticsBytes(positions), 8, backend, false);
    Segments.require(grad, "grad", tokens.logitsBytes(), tokens.logitsType().bytes(), backend, true);
    requireApart(tokens, statistics, positions, grad, tokens.logitsBytes());
    TokenKernels.tokenGradient(backend.abiCode(), threads, cudaStream, GroupRobustLoss.kernelTokens(tokens), statistics,
        coefficients, grad);
  }

  /**
   * As {@link #gradient(TokenLogits, MemorySegment, float[], MemorySegment, Backend, int, long)}, with the
   * coefficients already in {@code backend}'s memory (f32, one per position, 4-byte aligned): a caller that forms
   * them on the device (a fused LM head spreading its rows' {@code dJ/ds} over their positions) passes them without
   * a trip through the host. They are not read on the host, so not checked: a non-finite coefficient gives a
   * non-finite gradient.
   */
  public static void gradient(TokenLogits tokens, MemorySegment statistics, MemorySegment coefficients,
                              MemorySegment grad, Backend backend, int threads, long cudaStream) {
    prepare(tokens, backend, threads);
    long positions = positions(tokens);
    Segments.require(coefficients, "coefficients", 4 * positions, 4, backend, false);
    Segments.require(statistics, "statistics", statisticsBytes(positions), 8, backend, false);
    Segments.require(grad, "grad", tokens.logitsBytes(), tokens.logitsType().bytes(), backend, true);
    requireApart(tokens, statistics, positions, grad, tokens.logitsBytes(),
        new Segments.Use("coefficients", coefficients, 4 * positions, false));
    TokenKernels.tokenGradient(backend.abiCode(), threads, cudaStream, GroupRobustLoss.kernelTokens(tokens), statistics,
        coefficients.asSlice(0, 4 * positions), grad);
  }

  private static void prepare(TokenLogits tokens, Backend backend, int threads) {
    Objects.requireNonNull(tokens, "tokens");
    GroupRobustLoss.requireBackend(backend);
    if (threads < 0) {
      throw new IllegalArgumentException("threads = " + threads + ": use 0 for all cores or a positive count");
    }
    tokens.validate(backend);
  }

  private static long positions(TokenLogits tokens) {
    return (long) tokens.rows() * tokens.seqLen();
  }

  private static void requireApart(TokenLogits tokens, MemorySegment statistics, long positions, MemorySegment grad,
                                   long gradBytes, Segments.Use... more) {
    List<Segments.Use> uses = new java.util.ArrayList<>(tokens.uses());
    uses.addAll(List.of(more));
    uses.add(new Segments.Use("statistics", statistics, statisticsBytes(positions), true));
    if (grad != null) {
      uses.add(new Segments.Use("grad", grad, gradBytes, true));
    }
    Segments.requireDisjoint(uses, tokens.logits());
  }
}
