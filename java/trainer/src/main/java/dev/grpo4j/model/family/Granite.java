package dev.grpo4j.model.family;

import dev.grpo4j.model.ConfigJson;
import dev.grpo4j.model.DecoderOptions;
import dev.grpo4j.model.Rope;

/**
 * {@code GraniteForCausalLM}: Llama with four multipliers: on the embeddings, on the attention scores (instead of
 * {@code 1/sqrt(head_dim)}), on each block's output before its residual add, and {@code 1 / logits_scaling} on the
 * logits.
 */
final class Granite implements ModelFamily {
  @Override
  public String modelType() {
    return "granite";
  }

  @Override
  public String examples() {
    return "Granite 3.x (2B, 8B)";
  }

  @Override
  public String differences() {
    return "embedding, attention and residual multipliers; logits divided by logits_scaling";
  }

  @Override
  public DecoderOptions decoder(ConfigJson json, int layers) {
    Layers.requireSilu(json);
    double logitsScaling = json.number("logits_scaling", 1.0);
    if (!(logitsScaling > 0)) {
      throw new IllegalArgumentException("logits_scaling = " + logitsScaling + ": must be > 0");
    }
    return DecoderOptions.llama(layers, Rope.read(json), json.bool("attention_bias", false),
            json.bool("mlp_bias", false))
        .withEmbeddingScale(json.number("embedding_multiplier", 1.0), false)
        .withAttention(json.number("attention_multiplier", 1.0), 0)
        .withResidualMultiplier(json.number("residual_multiplier", 1.0))
        .withLogits(1 / logitsScaling, 0);
  }
}
