package dev.grpo4j.model.family;

import dev.grpo4j.model.ConfigJson;
import dev.grpo4j.model.DecoderOptions;
import dev.grpo4j.model.Rope;

/** {@code LlamaForCausalLM}: the shared decoder itself, with optional biases. */
final class Llama implements ModelFamily {
  @Override
  public String modelType() {
    return "llama";
  }

  @Override
  public String examples() {
    return "Llama 3.x, TinyLlama, SmolLM/SmolLM2";
  }

  @Override
  public String differences() {
    return "the shared decoder (pre-norm RMSNorm, GQA, RoPE with llama3/linear scaling, SwiGLU); optional "
        + "attention_bias and mlp_bias";
  }

  @Override
  public DecoderOptions decoder(ConfigJson json, int layers) {
    Layers.requireSilu(json);
    return DecoderOptions.llama(layers, Rope.read(json), json.bool("attention_bias", false),
        json.bool("mlp_bias", false));
  }
}
