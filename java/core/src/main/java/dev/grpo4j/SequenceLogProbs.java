package dev.grpo4j;

import dev.grpo4j.ffm.TokenKernels;

/**
 * Masked sequence log-probs {@code s_r = sum_t log_softmax(z[r][t])[labels[r][t]]} over unmasked positions,
 * e.g. to precompute reference log-probs once per data set.
 *
 * @param logProbs {@code s_r} per row
 * @param tokenCounts unmasked positions per row
 */
public record SequenceLogProbs(float[] logProbs, int[] tokenCounts) {
  public SequenceLogProbs {
    logProbs = logProbs.clone();
    tokenCounts = tokenCounts.clone();
  }

  @Override
  public float[] logProbs() {
    return logProbs.clone();
  }

  @Override
  public int[] tokenCounts() {
    return tokenCounts.clone();
  }

  /** Computes the log-probs on {@code backend} with the default thread count. */
  public static SequenceLogProbs compute(TokenLogits tokens, Backend backend) {
    return compute(tokens, backend, 0, 0L);
  }

  /**
   * Computes the log-probs.
   *
   * @param threads CPU threads, 0 for all available cores
   * @param cudaStream cudaStream_t address for {@link Backend#CUDA} (0 = default stream); the call waits for it
   */
  public static SequenceLogProbs compute(TokenLogits tokens, Backend backend, int threads, long cudaStream) {
    GroupRobustLoss.requireBackend(backend);
    if (threads < 0) {
      throw new IllegalArgumentException("threads = " + threads + ": use 0 for all cores or a positive count");
    }
    tokens.validate(backend);
    int[] counts = new int[tokens.rows()];
    float[] logps = TokenKernels.sequenceLogProbs(backend.abiCode(), threads, cudaStream,
        GroupRobustLoss.kernelTokens(tokens), counts);
    return new SequenceLogProbs(logps, counts);
  }
}
