package dev.grpo4j.torch;

import java.util.Objects;
import org.bytedeco.pytorch.Tensor;

/**
 * A causal LM's output layer as a fused head sees it: {@code logits = x W^T + b + scale * (dropout(x) A^T) B^T}.
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
 */
public record LmHead(Tensor weight, Tensor bias, Tensor loraA, Tensor loraB, double loraScale, double loraDropout,
                     boolean training) {
  public LmHead {
    Objects.requireNonNull(weight, "weight");
    if ((loraA == null) != (loraB == null)) {
      throw new IllegalArgumentException("loraA and loraB come together: pass both or neither");
    }
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
