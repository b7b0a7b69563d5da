package dev.grpo4j.model.family;

import dev.grpo4j.model.ConfigJson;
import dev.grpo4j.model.DecoderOptions;
import dev.grpo4j.model.DecoderOptions.NormPlacement;
import dev.grpo4j.model.DecoderOptions.NormStyle;
import dev.grpo4j.model.Rope;

/**
 * {@code Gemma2ForCausalLM}: Gemma with norms before and after each block, attention scaled by
 * {@code query_pre_attn_scalar^-1/2} and soft-capped, logits soft-capped, sliding and full layers alternating.
 */
final class Gemma2 extends Gemma {
  @Override
  public String modelType() {
    return "gemma2";
  }

  @Override
  public String examples() {
    return "Gemma 2 (2B, 9B)";
  }

  @Override
  public String differences() {
    return "Gemma plus pre- and post-norms; attention and final-logit soft-capping; query_pre_attn_scalar; "
        + "alternating sliding/full layers";
  }

  @Override
  public DecoderOptions decoder(ConfigJson json, int layers) {
    Rope rope = Rope.read(json);
    int window = Layers.window(json, 4096);
    return Gemma.gemmaBase(json, layers, rope, json.text("hidden_activation", "gelu_pytorch_tanh"),
            json.integer("hidden_size", null))
        .withNorm(NormStyle.ONE_PLUS_WEIGHT, NormPlacement.SANDWICH)
        .withAttention(Math.pow(json.number("query_pre_attn_scalar", 256.0), -0.5), softcap(json,
            "attn_logit_softcapping", 50.0))
        .withLogits(1, softcap(json, "final_logit_softcapping", 30.0))
        .withLayers(Layers.of(Layers.types(json, layers, i -> i % 2 == 0 ? Layers.SLIDING : Layers.FULL), window,
            rope, rope));
  }

  /** A soft-cap: the class default when the file leaves it out, none when it is null. */
  static double softcap(ConfigJson json, String field, double absent) {
    return json.isNull(field) ? 0 : json.number(field, absent);
  }
}
