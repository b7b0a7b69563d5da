package dev.grpo4j.model.family;

import dev.grpo4j.model.ConfigJson;
import dev.grpo4j.model.DecoderOptions;
import dev.grpo4j.model.DecoderOptions.NormPlacement;
import dev.grpo4j.model.DecoderOptions.NormStyle;
import dev.grpo4j.model.Rope;

/**
 * {@code GemmaForCausalLM}: (1 + w) RMSNorms, embeddings scaled by sqrt(H) (rounded to the model's dtype, as
 * transformers' buffer is), GeGLU with tanh-GELU, tied head. Gemma 2 and 3 extend it: its defaults hold for them.
 */
class Gemma implements ModelFamily {
  @Override
  public String modelType() {
    return "gemma";
  }

  @Override
  public String examples() {
    return "Gemma (2B, 7B), CodeGemma";
  }

  @Override
  public String differences() {
    return "(1+w) RMSNorm; embedding times sqrt(H); GeGLU (tanh GELU); tied head";
  }

  @Override
  public DecoderOptions decoder(ConfigJson json, int layers) {
    return gemmaBase(json, layers, Rope.read(json), json.text("hidden_activation", json.text("hidden_act",
        "gelu_pytorch_tanh")), json.integer("hidden_size", null));
  }

  /** What every Gemma shares: the norms, the scaled embedding, GeGLU, q/k/v/o biases by attention_bias. */
  static DecoderOptions gemmaBase(ConfigJson json, int layers, Rope rope, String activation, int hidden) {
    if (json.bool("use_bidirectional_attention", false)) {
      throw new IllegalArgumentException("use_bidirectional_attention = true is not supported: a causal LM's "
          + "preference training needs causal attention");
    }
    boolean bias = json.bool("attention_bias", false);
    return DecoderOptions.llama(layers, rope, bias, false)
        .withNorm(NormStyle.ONE_PLUS_WEIGHT, NormPlacement.PRE)
        .withActivation(DecoderOptions.Activation.of(activation, "hidden_activation"))
        .withEmbeddingScale(Math.sqrt(hidden), true);
  }

  @Override
  public int defaultHeadDim(int hidden, int heads) {
    return 256;
  }

  @Override
  public boolean defaultTiedHead() {
    return true;
  }
}
