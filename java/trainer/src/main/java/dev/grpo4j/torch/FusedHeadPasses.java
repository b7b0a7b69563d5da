package dev.grpo4j.torch;

import dev.grpo4j.Backend;
import dev.grpo4j.TokenLogits;
import dev.grpo4j.TokenPasses;
import dev.grpo4j.platform.LibTorch;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.util.Objects;
import org.bytedeco.pytorch.Tensor;

/**
 * The two token passes of a {@link FusedLmHead} chunk on the native backend: log-probs (keeping each position's
 * softmax statistics) and, in place on the chunk's logits, {@code coef (onehot - softmax)}.
 *
 * @param backend where the passes run
 * @param threads CPU threads, 0 for all cores
 * @param cudaStream the CUDA stream of a GPU backend (0: the default stream)
 */
record FusedHeadPasses(Backend backend, int threads, long cudaStream) {
  static {
    LibTorch.load();
  }

  FusedHeadPasses {
    Objects.requireNonNull(backend, "backend");
    if (threads < 0) {
      throw new IllegalArgumentException("threads = " + threads + ": use 0 for all cores or a positive count");
    }
  }

  /** The log-probs of the {@code c} positions from {@code start}, whose logits {@code z} holds. */
  float[] logProbs(Tensor z, FusedHeadPositions p, Tensor statistics, int start, int c) {
    float[] logps = TokenPasses.logProbs(tokenLogits(z, p, start, c), slice(statistics, start, c), backend, threads,
        cudaStream);
    Reference.reachabilityFence(z);
    return logps;
  }

  /**
   * {@code z} (the logits of the {@code c} positions from {@code start}) becomes {@code coef (onehot - softmax)},
   * {@code coef} ({@code [c]} f32) where the logits are.
   */
  void gradient(Tensor z, FusedHeadPositions p, Tensor statistics, int start, int c, Tensor coef) {
    TokenPasses.gradient(tokenLogits(z, p, start, c), slice(statistics, start, c),
        TorchPreferenceLoss.segment(coef, "coefficients"), TorchPreferenceLoss.segment(z, "logits"), backend, threads,
        cudaStream);
    Reference.reachabilityFence(z);
    Reference.reachabilityFence(coef);
  }

  private TokenLogits tokenLogits(Tensor z, FusedHeadPositions p, int start, int c) {
    Tensor labels = p.labels().narrow(0, start, c);
    return TorchPreferenceLoss.tokens(z.view(z.size(0), 1, z.size(1)), labels.contiguous().view(labels.size(0), 1),
        false, backend);
  }

  private static MemorySegment slice(Tensor statistics, long start, long count) {
    return TorchPreferenceLoss.segment(statistics, "statistics").asSlice(TokenPasses.statisticsBytes(start),
        TokenPasses.statisticsBytes(count));
  }
}
