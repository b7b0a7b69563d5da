package dev.grpo4j.model.family;

import dev.grpo4j.model.ConfigJson;
import dev.grpo4j.model.DecoderOptions;
import dev.grpo4j.model.Rope;

/** {@code Qwen3ForCausalLM}: Llama with an RMSNorm on each query and key head, and an explicit head width. */
final class Qwen3 implements ModelFamily {
  @Override
  public String modelType() {
    return "qwen3";
  }

  @Override
  public String examples() {
    return "Qwen3 (0.6B-8B)";
  }

  @Override
  public String differences() {
    return "per-head q/k RMSNorm; explicit head_dim; optional attention_bias; sliding window as Qwen2";
  }

  @Override
  public DecoderOptions decoder(ConfigJson json, int layers) {
    Layers.requireSilu(json);
    Rope rope = Rope.read(json);
    return DecoderOptions.llama(layers, rope, json.bool("attention_bias", false), false)
        .withQkNorm(DecoderOptions.QkNorm.PER_HEAD)
        .withLayers(Layers.qwen(json, layers, rope));
  }

  @Override
  public int defaultHeadDim(int hidden, int heads) {
    return 128;
  }
}
