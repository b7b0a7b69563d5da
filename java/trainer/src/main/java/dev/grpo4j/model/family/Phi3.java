package dev.grpo4j.model.family;

import dev.grpo4j.model.ConfigJson;
import dev.grpo4j.model.DecoderOptions;
import dev.grpo4j.model.Rope;
import java.util.List;

/**
 * {@code Phi3ForCausalLM}: one {@code qkv_proj} and one {@code gate_up_proj} per layer, the rotation on the first
 * {@code partial_rotary_factor} of each head, an optional sliding window on every layer. Dropouts are not applied
 * (TRL's DPO turns them off too).
 */
final class Phi3 implements ModelFamily {
  @Override
  public String modelType() {
    return "phi3";
  }

  @Override
  public String examples() {
    return "Phi-3 and Phi-3.5 mini/medium, Phi-4-mini (LongRoPE)";
  }

  @Override
  public String differences() {
    return "fused qkv_proj and gate_up_proj; partial rotary; LongRoPE; optional sliding window";
  }

  @Override
  public DecoderOptions decoder(ConfigJson json, int layers) {
    Layers.requireSilu(json);
    Rope rope = Rope.read(json);
    ConfigJson params = json.object("rope_parameters");
    double fraction = params != null && params.has("partial_rotary_factor")
        ? params.number("partial_rotary_factor", 1.0) : json.number("partial_rotary_factor", 1.0);
    return DecoderOptions.llama(layers, rope, false, false).withFusedProjections(fraction)
        .withLayers(Layers.uniform(layers, Layers.window(json, null), rope));
  }

  @Override
  public List<String> attentionProjections() {
    return List.of("qkv_proj", "o_proj");
  }

  @Override
  public double defaultNormEps() {
    return 1e-5;
  }
}
