package dev.grpo4j.model.family;

import dev.grpo4j.model.ConfigJson;
import dev.grpo4j.model.DecoderOptions.LayerAttention;
import dev.grpo4j.model.Rope;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.IntFunction;

/** The per-layer attention settings families share: {@code layer_types}, {@code sliding_window}, rotation. */
final class Layers {
  static final String FULL = "full_attention";
  static final String SLIDING = "sliding_attention";

  private Layers() {}

  /** Every layer alike: a window of {@code window} positions (0: full causal), rotated by {@code rope}. */
  static List<LayerAttention> uniform(int layers, int window, Rope rope) {
    return Collections.nCopies(layers, new LayerAttention(window, rope));
  }

  /**
   * {@code layer_types} of the file, or {@code fallback}'s for layer i when it has none; each entry is
   * {@code full_attention} or {@code sliding_attention}.
   */
  static List<String> types(ConfigJson json, int layers, IntFunction<String> fallback) {
    List<String> types = json.texts("layer_types", layers);
    if (types == null) {
      types = new ArrayList<>();
      for (int i = 0; i < layers; i++) {
        types.add(fallback.apply(i));
      }
    }
    for (String t : types) {
      if (!t.equals(FULL) && !t.equals(SLIDING)) {
        throw new IllegalArgumentException("layer_types entry \"" + t + "\" is not supported: grpo4j implements "
            + FULL + " and " + SLIDING);
      }
    }
    return types;
  }

  /**
   * Layers of {@code types}: sliding ones see {@code window} positions (the file's {@code sliding_window}, required
   * when a layer slides), rotated by {@code full} or {@code sliding}.
   */
  static List<LayerAttention> of(List<String> types, int window, Rope full, Rope sliding) {
    List<LayerAttention> out = new ArrayList<>();
    for (String t : types) {
      boolean slides = t.equals(SLIDING);
      if (slides && window < 1) {
        throw new IllegalArgumentException("layer_types has " + SLIDING + " layers but sliding_window is "
            + (window == 0 ? "null" : window) + ": set the window those layers use");
      }
      out.add(new LayerAttention(slides ? window : 0, slides ? sliding : full));
    }
    return out;
  }

  /** {@code sliding_window}, 0 when absent or null. */
  static int window(ConfigJson json, Integer absent) {
    if (json.isNull("sliding_window")) {
      return 0;
    }
    int w = json.integer("sliding_window", absent == null ? 0 : absent);
    if (w < 0 || json.has("sliding_window") && w == 0) {
      throw new IllegalArgumentException("sliding_window = " + w + ": must be >= 1 or null");
    }
    return w;
  }

  /**
   * Qwen2's and Qwen3's rule: a window only with {@code use_sliding_window}, then on the layers from
   * {@code max_window_layers} on unless {@code layer_types} says otherwise.
   */
  static List<LayerAttention> qwen(ConfigJson json, int layers, Rope rope) {
    int window = json.bool("use_sliding_window", false) ? window(json, 4096) : 0;
    int firstSliding = json.integer("max_window_layers", 28);
    List<String> types = types(json, layers, i -> window > 0 && i >= firstSliding ? SLIDING : FULL);
    if (window == 0) {
      return uniform(layers, 0, rope);
    }
    return of(types, window, rope, rope);
  }

  /**
   * {@code sparse}, once the config is known not to ask for the router's load-balancing loss, which TRL adds to the
   * DPO loss only when {@code output_router_logits} is set and grpo4j does not compute.
   */
  static List<Boolean> requireNoRouterLoss(ConfigJson json, List<Boolean> sparse) {
    if (json.bool("output_router_logits", false)) {
      throw new IllegalArgumentException("output_router_logits = true (the router's load-balancing loss) is not "
          + "supported: set it to false");
    }
    return sparse;
  }

  /** {@code hidden_act} (or {@code hidden_activation}) when it must be silu. */
  static void requireSilu(ConfigJson json) {
    String act = json.text("hidden_act", "silu");
    if (!act.equals("silu")) {
      throw new IllegalArgumentException("hidden_act \"" + act + "\" is not supported: this family's gated MLP "
          + "uses silu");
    }
  }
}
