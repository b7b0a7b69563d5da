package dev.grpo4j.model.family;

import dev.grpo4j.model.ConfigJson;
import dev.grpo4j.model.DecoderOptions;
import java.util.Collections;
import java.util.List;

/**
 * {@code MixtralForCausalLM}: Mistral whose every MLP is a mixture of experts (a router
 * {@code block_sparse_moe.gate}, experts {@code block_sparse_moe.experts.<e>.w1/w3/w2} as gate/up/down), the chosen
 * experts' probabilities always renormalised and kept in float32.
 */
final class Mixtral implements ModelFamily {
  @Override
  public String modelType() {
    return "mixtral";
  }

  @Override
  public String examples() {
    return "Mixtral 8x7B, 8x22B";
  }

  @Override
  public String differences() {
    return "Mistral with mixture-of-experts MLPs on every layer (top-2 routing, renormalised)";
  }

  @Override
  public DecoderOptions decoder(ConfigJson json, int layers) {
    double jitter = json.number("router_jitter_noise", 0.0);
    if (jitter != 0) {
      throw new IllegalArgumentException("router_jitter_noise = " + jitter + " is not supported: grpo4j routes "
          + "without noise; set it to 0");
    }
    return new Mistral().decoder(json, layers).withExperts(new DecoderOptions.Experts(
        json.integer("num_local_experts", 8), json.integer("num_experts_per_tok", 2),
        json.integer("intermediate_size", null), true, false, "block_sparse_moe", List.of("w1", "w3", "w2"),
        Layers.requireNoRouterLoss(json, Collections.nCopies(layers, true))));
  }
}
