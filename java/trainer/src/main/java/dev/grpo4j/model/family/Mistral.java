package dev.grpo4j.model.family;

import dev.grpo4j.model.ConfigJson;
import dev.grpo4j.model.DecoderOptions;
import dev.grpo4j.model.Rope;

/** {@code MistralForCausalLM}: Llama whose every layer attends within {@code sliding_window} positions. */
final class Mistral implements ModelFamily {
  @Override
  public String modelType() {
    return "mistral";
  }

  @Override
  public String examples() {
    return "Mistral 7B, Mistral NeMo";
  }

  @Override
  public String differences() {
    return "sliding-window attention on every layer (sliding_window, null: full)";
  }

  @Override
  public DecoderOptions decoder(ConfigJson json, int layers) {
    Layers.requireSilu(json);
    Rope rope = Rope.read(json);
    return DecoderOptions.llama(layers, rope, false, false)
        .withLayers(Layers.uniform(layers, Layers.window(json, 4096), rope));
  }
}
