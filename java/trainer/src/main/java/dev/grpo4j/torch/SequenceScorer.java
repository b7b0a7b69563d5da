package dev.grpo4j.torch;

import dev.grpo4j.Backend;
import dev.grpo4j.SequenceLogProbs;
import dev.grpo4j.platform.LibTorch;
import dev.grpo4j.text.TokenPair;
import java.util.List;
import java.util.Objects;
import java.util.function.IntConsumer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Sequence log-probs of preference pairs under a frozen model: for each pair, the sum over the chosen (and the
 * rejected) response's tokens of {@code log p(token | prompt, earlier response tokens)}, computed by the fused
 * kernel's sequence-log-prob pass. These are the reference log-probs of DPO and its group-robust forms.
 *
 * <p>Pairs are scored in chunks, each padded only to its own longest row, in their given order.
 */
@SuppressWarnings("try") // PointerScope and NoGradGuard act by existing; the bodies never name them
public final class SequenceScorer {
  static {
    LibTorch.load();
  }

  /**
   * Log-probs of each pair's chosen and rejected response.
   *
   * @param chosen one per pair, in pair order
   * @param rejected one per pair, in pair order
   */
  public record Scores(float[] chosen, float[] rejected) {
    /** Zero log-probs for {@code pairs} pairs: the references of a reference-free loss, which reads none. */
    public static Scores zeros(int pairs) {
      return new Scores(new float[pairs], new float[pairs]);
    }
  }

  private final CausalLm model;
  private final Backend backend;
  private final Device device;
  private final FusedLmHead fusedHead;

  /**
   * @param model the scoring model (put it in eval mode; with LoRA, switch adapters off for the base model)
   * @param backend where the kernel runs: {@link Backend#CUDA} for a model on the GPU, otherwise
   *     {@link Backend#CPU}
   * @param device the model's device; inputs are moved there
   */
  public SequenceScorer(CausalLm model, Backend backend, Device device) {
    this(model, backend, device, null);
  }

  /** As {@link #SequenceScorer(CausalLm, Backend, Device)}; through {@code fusedHead} when it is not null. */
  public SequenceScorer(CausalLm model, Backend backend, Device device, FusedLmHead fusedHead) {
    this.model = Objects.requireNonNull(model, "model");
    this.backend = Objects.requireNonNull(backend, "backend");
    this.device = Objects.requireNonNull(device, "device");
    this.fusedHead = fusedHead;
  }

  /**
   * Scores {@code pairs} in chunks of {@code chunkPairs} pairs; {@code progress} receives the number of pairs each
   * finished chunk held.
   */
  public Scores score(List<TokenPair> pairs, int chunkPairs, IntConsumer progress) {
    if (chunkPairs < 1) {
      throw new IllegalArgumentException("chunkPairs = " + chunkPairs + ": must be >= 1");
    }
    int n = pairs.size();
    float[] chosen = new float[n];
    float[] rejected = new float[n];
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (int start = 0; start < n; start += chunkPairs) {
        int end = Math.min(n, start + chunkPairs);
        try (PointerScope scope = new PointerScope()) {
          EncodedPairs chunk = EncodedPairs.encode(pairs.subList(start, end));
          int[] all = new int[end - start];
          for (int i = 0; i < all.length; i++) {
            all[i] = i;
          }
          Tensor ids = chunk.inputIds(all).to(device, ScalarType.Long);
          Tensor labels = chunk.labels(all).to(device, ScalarType.Long);
          SequenceLogProbs logps = fusedHead != null
              ? fusedHead.sequenceLogProbs(model.hiddenStates(ids), model.head(), labels)
              : TorchPreferenceLoss.sequenceLogProbs(model.forward(ids).contiguous(), labels, backend);
          float[] values = logps.logProbs();
          System.arraycopy(values, 0, chosen, start, all.length);
          System.arraycopy(values, all.length, rejected, start, all.length);
        }
        progress.accept(end - start);
      }
    }
    return new Scores(chosen, rejected);
  }
}
