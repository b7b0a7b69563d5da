package dev.grpo4j.model.family;

import dev.grpo4j.model.ConfigJson;
import dev.grpo4j.model.DecoderOptions;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code Qwen3MoeForCausalLM}: Qwen3 whose MLPs are mixtures of experts (a router {@code mlp.gate}, experts
 * {@code mlp.experts.<e>.gate_proj/up_proj/down_proj}), except the layers of {@code mlp_only_layers} and those
 * {@code decoder_sparse_step} skips.
 */
final class Qwen3Moe implements ModelFamily {
  @Override
  public String modelType() {
    return "qwen3_moe";
  }

  @Override
  public String examples() {
    return "Qwen3-30B-A3B";
  }

  @Override
  public String differences() {
    return "Qwen3 with mixture-of-experts MLPs (top-k routing, norm_topk_prob, mlp_only_layers)";
  }

  @Override
  public DecoderOptions decoder(ConfigJson json, int layers) {
    int count = json.integer("num_experts", json.integer("num_local_experts", 128));
    int step = json.integer("decoder_sparse_step", 1);
    List<Integer> denseLayers = json.integers("mlp_only_layers", -1);
    List<Boolean> sparse = new ArrayList<>();
    for (int i = 0; i < layers; i++) {
      sparse.add((denseLayers == null || !denseLayers.contains(i)) && count > 0 && (i + 1) % step == 0);
    }
    return new Qwen3().decoder(json, layers).withExperts(new DecoderOptions.Experts(count,
        json.integer("num_experts_per_tok", 8), json.integer("moe_intermediate_size", 768),
        json.bool("norm_topk_prob", false), true, "mlp", List.of("gate_proj", "up_proj", "down_proj"),
        Layers.requireNoRouterLoss(json, sparse)));
  }

  @Override
  public int defaultHeadDim(int hidden, int heads) {
    return 128;
  }
}
