package dev.grpo4j.model.family;

import dev.grpo4j.model.ConfigJson;
import dev.grpo4j.model.DecoderOptions;
import dev.grpo4j.model.DecoderOptions.NormPlacement;
import dev.grpo4j.model.DecoderOptions.NormStyle;
import dev.grpo4j.model.Rope;

/**
 * {@code Olmo2ForCausalLM}: norms after each block (before its residual add) instead of before, RMSNorm on the whole
 * query and key projections, the norm weight applied in float32.
 */
final class Olmo2 implements ModelFamily {
  @Override
  public String modelType() {
    return "olmo2";
  }

  @Override
  public String examples() {
    return "OLMo 2 (1B, 7B, 13B)";
  }

  @Override
  public String differences() {
    return "post-norms (after attention and MLP); q/k RMSNorm over the whole projection";
  }

  @Override
  public DecoderOptions decoder(ConfigJson json, int layers) {
    Layers.requireSilu(json);
    return DecoderOptions.llama(layers, Rope.read(json), json.bool("attention_bias", false), false)
        .withNorm(NormStyle.WEIGHT_BEFORE_CAST, NormPlacement.POST)
        .withQkNorm(DecoderOptions.QkNorm.WHOLE);
  }

  @Override
  public double defaultNormEps() {
    return 1e-5;
  }
}
