package dev.grpo4j.model.family;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/** The model families grpo4j runs, by {@code model_type}. */
public final class ModelFamilies {
  private static final List<ModelFamily> ALL = List.of(new Llama(), new Qwen2(), new Qwen3(), new Mistral(),
      new Ministral(), new Gemma(), new Gemma2(), new Gemma3Text(), new Phi3(), new Olmo2(), new SmolLm3(),
      new Granite(), new Qwen3Moe(), new Mixtral());
  private static final Map<String, ModelFamily> BY_TYPE = ALL.stream()
      .collect(Collectors.toUnmodifiableMap(ModelFamily::modelType, Function.identity()));
  private static final Set<String> MIXTURES_OF_EXPERTS = Set.of("qwen2_moe", "olmoe",
      "granitemoe", "granitemoehybrid", "phimoe", "deepseek_v2", "deepseek_v3", "gpt_oss", "llama4", "dbrx");

  private ModelFamilies() {}

  /** Every family, in a fixed order. */
  public static List<ModelFamily> all() {
    return ALL;
  }

  /**
   * The family of {@code modelType}.
   *
   * @throws IllegalArgumentException naming the supported types, with a line of its own for mixture-of-experts
   *     and multimodal checkpoints
   */
  public static ModelFamily of(String modelType) {
    ModelFamily family = BY_TYPE.get(modelType);
    if (family != null) {
      return family;
    }
    String supported = ALL.stream().map(ModelFamily::modelType).collect(Collectors.joining(", "));
    if (MIXTURES_OF_EXPERTS.contains(modelType)) {
      throw new IllegalArgumentException("model_type \"" + modelType + "\" is a mixture-of-experts model grpo4j does "
          + "not run yet: it runs " + supported);
    }
    if (modelType.equals("gemma3") || modelType.equals("mistral3")) {
      throw new IllegalArgumentException("model_type \"" + modelType + "\" is a multimodal checkpoint, which is not "
          + "supported: use a text-only one (gemma3_text: Gemma 3 270M/1B) or convert its text_config");
    }
    throw new IllegalArgumentException("model_type \"" + modelType + "\" is not supported: grpo4j runs " + supported);
  }
}
