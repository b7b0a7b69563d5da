package dev.grpo4j.torch;

import java.util.Objects;
import org.bytedeco.pytorch.Tensor;

/**
 * A causal LM's output layer as a fused head sees it: {@code z = x W^T + b + scale * (dropout(x) A^T) B^T}, and the
 * logits {@code m z}, or {@code c tanh(m z / c)} with a final soft-cap {@code c} (Gemma 2).
 * The tensors are the model's own parameters (autograd leaves), so that gradients computed outside autograd can be
 * added to their {@code grad}.
 *
 * @param weight {@code W [V, H]}; for tied embeddings the embedding matrix itself
 * @param bias {@code b [V]}, or null
 * @param loraA LoRA's {@code A [r, H]}, or null without an (enabled) adapter
 * @param loraB LoRA's {@code B [V, r]}, or null
 * @param loraScale LoRA's {@code alpha / r}
 * @param loraDropout dropout on the adapter's input while training
 * @param training whether the model is in training mode (dropout active)
 * @param logitsMultiplier {@code m}, 1 for most families
 * @param softcap {@code c}, 0 for none
 */
public record LmHead(Tensor weight, Tensor bias, Tensor loraA, Tensor loraB, double loraScale, double loraDropout,
                     boolean training, double logitsMultiplier, double softcap) {
  public LmHead {
    Objects.requireNonNull(weight, "weight");
    if ((loraA == null) != (loraB == null)) {
      throw new IllegalArgumentException("loraA and loraB come together: pass both or neither");
    }
    if (!(logitsMultiplier > 0) || Double.isInfinite(logitsMultiplier)) {
      throw new IllegalArgumentException("logitsMultiplier = " + logitsMultiplier + ": must be finite and > 0");
    }
    if (!(softcap >= 0) || Double.isInfinite(softcap)) {
      throw new IllegalArgumentException("softcap = " + softcap + ": must be finite and > 0, or 0 for none");
    }
  }

  /** A head whose logits are {@code z} itself. */
  public LmHead(Tensor weight, Tensor bias, Tensor loraA, Tensor loraB, double loraScale, double loraDropout,
                boolean training) {
    this(weight, bias, loraA, loraB, loraScale, loraDropout, training, 1, 0);
  }

  /** The same head with logits {@code multiplier * z}, soft-capped at {@code softcap} (0: not). */
  public LmHead withLogits(double multiplier, double softcap) {
    return new LmHead(weight, bias, loraA, loraB, loraScale, loraDropout, training, multiplier, softcap);
  }

  /** Whether the logits are {@code z} itself. */
  public boolean plainLogits() {
    return logitsMultiplier == 1 && softcap == 0;
  }

  /** A plain linear head without bias or adapter. */
  public static LmHead of(Tensor weight) {
    return new LmHead(weight, null, null, null, 0, 0, false);
  }

  public boolean hasAdapter() {
    return loraA != null;
  }

  public long vocab() {
    return weight.size(0);
  }
}
