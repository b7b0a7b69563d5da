package dev.grpo4j.model.family;

import dev.grpo4j.model.ConfigJson;
import dev.grpo4j.model.DecoderOptions;
import dev.grpo4j.model.Rope;

/** {@code MinistralForCausalLM}: Mistral with sliding and full layers mixed as {@code layer_types} says. */
final class Ministral implements ModelFamily {
  @Override
  public String modelType() {
    return "ministral";
  }

  @Override
  public String examples() {
    return "Ministral 8B";
  }

  @Override
  public String differences() {
    return "sliding_attention and full_attention layers mixed by layer_types";
  }

  @Override
  public DecoderOptions decoder(ConfigJson json, int layers) {
    Layers.requireSilu(json);
    Rope rope = Rope.read(json);
    int window = Layers.window(json, 4096);
    return DecoderOptions.llama(layers, rope, false, false).withLayers(Layers.of(
        Layers.types(json, layers, i -> window > 0 ? Layers.SLIDING : Layers.FULL), window, rope, rope));
  }
}
