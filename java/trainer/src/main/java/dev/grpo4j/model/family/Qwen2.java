package dev.grpo4j.model.family;

import dev.grpo4j.model.ConfigJson;
import dev.grpo4j.model.DecoderOptions;
import dev.grpo4j.model.Rope;

/** {@code Qwen2ForCausalLM}: Llama with q/k/v biases and an optional sliding window on the upper layers. */
final class Qwen2 implements ModelFamily {
  @Override
  public String modelType() {
    return "qwen2";
  }

  @Override
  public String examples() {
    return "Qwen2, Qwen2.5 (0.5B-7B)";
  }

  @Override
  public String differences() {
    return "q/k/v biases; sliding window from max_window_layers when use_sliding_window";
  }

  @Override
  public DecoderOptions decoder(ConfigJson json, int layers) {
    Layers.requireSilu(json);
    Rope rope = Rope.read(json);
    return DecoderOptions.llama(layers, rope, false, false).withBiases(true, false, false)
        .withLayers(Layers.qwen(json, layers, rope));
  }
}
