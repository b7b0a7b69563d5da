package dev.grpo4j.model.family;

import dev.grpo4j.model.ConfigJson;
import dev.grpo4j.model.DecoderOptions;
import dev.grpo4j.model.DecoderOptions.LayerAttention;
import dev.grpo4j.model.Rope;
import java.util.ArrayList;
import java.util.List;

/** {@code SmolLM3ForCausalLM}: Llama where the layers {@code no_rope_layers} marks 0 have no rotation (NoPE). */
final class SmolLm3 implements ModelFamily {
  @Override
  public String modelType() {
    return "smollm3";
  }

  @Override
  public String examples() {
    return "SmolLM3 3B";
  }

  @Override
  public String differences() {
    return "NoPE layers (no_rope_layers: every fourth by default); optional sliding window on NoPE layers";
  }

  @Override
  public DecoderOptions decoder(ConfigJson json, int layers) {
    Layers.requireSilu(json);
    Rope rope = Rope.read(json);
    int interval = json.integer("no_rope_layer_interval", 4);
    List<Integer> useRope = json.integers("no_rope_layers", layers);
    boolean slides = json.bool("use_sliding_window", false);
    int window = Layers.window(json, null);
    List<String> types = Layers.types(json, layers, i -> slides && window > 0 && (i + 1) % interval == 0
        ? Layers.SLIDING : Layers.FULL);
    List<LayerAttention> out = new ArrayList<>();
    for (int i = 0; i < layers; i++) {
      boolean rotated = useRope == null ? (i + 1) % interval != 0 : useRope.get(i) != 0;
      boolean sliding = slides && types.get(i).equals(Layers.SLIDING);
      if (sliding && window < 1) {
        throw new IllegalArgumentException("layer " + i + " is a sliding_attention layer but sliding_window is null");
      }
      out.add(new LayerAttention(sliding ? window : 0, rotated ? rope : null));
    }
    return DecoderOptions.llama(layers, rope, json.bool("attention_bias", false), json.bool("mlp_bias", false))
        .withLayers(out);
  }

  @Override
  public boolean defaultTiedHead() {
    return true;
  }
}
