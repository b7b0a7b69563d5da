package dev.grpo4j.model;

import dev.grpo4j.model.DecoderOptions.Activation;
import dev.grpo4j.model.DecoderOptions.Experts;
import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.platform.LibTorch;
import java.util.List;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A mixture-of-experts MLP (Qwen3-MoE, Mixtral): {@code p = softmax(gate(x))} in float32, the {@code topK} largest
 * per position (renormalised when the family does), and {@code sum_k p_k expert_k(x)} with each expert a gated MLP,
 * computed expert by expert on the positions routed to it, as transformers' eager experts do. The routing is a
 * selection, so the gradient reaches the router through the chosen probabilities only.
 */
record MixtureOfExperts(Projection router, List<Mlp> experts, Experts spec) {
  static {
    LibTorch.load();
  }

  MixtureOfExperts {
    experts = List.copyOf(experts);
  }

  Tensor forward(Tensor x, Activation activation) {
    long width = x.size(-1);
    Tensor flat = x.reshape(-1, width);
    Tensor logits = router.forward(flat);
    Tensor probabilities = logits.softmax(-1, new ScalarTypeOptional(ScalarType.Float));
    T_TensorTensor_T top = probabilities.topk(spec.topK());
    Tensor weights = top.get0();
    if (spec.normalizeTopK()) {
      weights = weights.div(weights.sum(new long[] {-1}, true, new ScalarTypeOptional()));
    }
    if (spec.weightsInModelDtype()) {
      weights = weights.to(logits.scalar_type().intern());
    }
    double[] chosen = HostTensors.toDoubles(top.get1());
    int k = spec.topK();
    // Each expert's (position, slot) pairs, in one pass over the choices.
    int[] routed = new int[experts.size()];
    for (double e : chosen) {
      routed[(int) e]++;
    }
    long[][] positions = new long[experts.size()][];
    long[][] slots = new long[experts.size()][];
    for (int e = 0; e < routed.length; e++) {
      positions[e] = new long[routed[e]];
      slots[e] = new long[routed[e]];
      routed[e] = 0;
    }
    for (int i = 0; i < chosen.length; i++) {
      int e = (int) chosen[i];
      positions[e][routed[e]] = i / k;
      slots[e][routed[e]++] = i % k;
    }
    Tensor out = torch.zeros_like(flat);
    for (int e = 0; e < experts.size(); e++) {
      int n = positions[e].length;
      if (n == 0) {
        continue;
      }
      Tensor rows = HostTensors.longs(positions[e], n).to(x.device(), ScalarType.Long);
      Tensor slot = HostTensors.longs(slots[e], n, 1).to(x.device(), ScalarType.Long);
      Tensor y = experts.get(e).forward(flat.index_select(0, rows), activation, spec.intermediate());
      Tensor weighted = y.mul(weights.index_select(0, rows).gather(1, slot));
      out = out.index_add(0, rows, weighted.to(flat.scalar_type().intern()));
    }
    return out.reshape(x.sizes().vec().get());
  }
}
