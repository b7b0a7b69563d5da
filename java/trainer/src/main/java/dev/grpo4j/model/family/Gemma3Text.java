package dev.grpo4j.model.family;

import dev.grpo4j.model.ConfigJson;
import dev.grpo4j.model.DecoderOptions;
import dev.grpo4j.model.DecoderOptions.NormPlacement;
import dev.grpo4j.model.DecoderOptions.NormStyle;
import dev.grpo4j.model.Rope;

/**
 * {@code Gemma3ForCausalLM} (text only): Gemma 2's layout with (1 + w) RMSNorms on each query and key head, no
 * attention soft-cap by default, five sliding layers to one full, and a rotary base per attention type.
 */
final class Gemma3Text extends Gemma {
  @Override
  public String modelType() {
    return "gemma3_text";
  }

  @Override
  public String examples() {
    return "Gemma 3 270M and 1B (text-only checkpoints)";
  }

  @Override
  public String differences() {
    return "Gemma 2's layout plus per-head q/k norms; layer_types; a rope base per attention type";
  }

  @Override
  public DecoderOptions decoder(ConfigJson json, int layers) {
    Rope full;
    Rope sliding;
    ConfigJson params = json.object("rope_parameters");
    if (params != null && params.has(Layers.FULL)) {
      full = Rope.of(params.object(Layers.FULL), 1_000_000.0, json);
      sliding = params.has(Layers.SLIDING) ? Rope.of(params.object(Layers.SLIDING), 10_000.0, json) : full;
    } else {
      full = json.has("rope_theta") || params != null ? Rope.read(json) : Rope.standard(1_000_000.0);
      sliding = Rope.standard(json.number("rope_local_base_freq", 10_000.0));
    }
    int pattern = json.integer("sliding_window_pattern", json.integer("_sliding_window_pattern", 6));
    return Gemma.gemmaBase(json, layers, full, json.text("hidden_activation", "gelu_pytorch_tanh"),
            json.integer("hidden_size", null))
        .withNorm(NormStyle.ONE_PLUS_WEIGHT, NormPlacement.SANDWICH)
        .withQkNorm(DecoderOptions.QkNorm.PER_HEAD)
        .withAttention(Math.pow(json.number("query_pre_attn_scalar", 256.0), -0.5),
            Gemma2.softcap(json, "attn_logit_softcapping", 0))
        .withLogits(1, Gemma2.softcap(json, "final_logit_softcapping", 0))
        .withLayers(Layers.of(Layers.types(json, layers,
            i -> (i + 1) % pattern != 0 ? Layers.SLIDING : Layers.FULL), Layers.window(json, 4096), full, sliding));
  }
}
