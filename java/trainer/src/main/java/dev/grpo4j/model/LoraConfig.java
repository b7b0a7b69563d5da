package dev.grpo4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * LoRA settings with PEFT's meaning and field names ({@code adapter_config.json}): each targeted linear layer
 * {@code W} becomes {@code W + (alpha / r) * B A} with {@code A} {@code [r, in]}, {@code B} {@code [out, r]}.
 *
 * @param rank {@code r}
 * @param alpha {@code lora_alpha}
 * @param dropout {@code lora_dropout}, applied to the adapter's input in training mode
 * @param targetModules {@code target_modules}: the last component of the Hugging Face module names to adapt
 *     ({@code q_proj}, {@code k_proj}, {@code v_proj}, {@code o_proj}, {@code gate_proj}, {@code up_proj},
 *     {@code down_proj}, {@code lm_head}; Phi-3's fused {@code qkv_proj} and {@code gate_up_proj})
 * @param baseModel {@code base_model_name_or_path}, recorded for PEFT (may be empty)
 */
public record LoraConfig(int rank, double alpha, double dropout, List<String> targetModules, String baseModel) {
  /** File names of a PEFT adapter folder. */
  public static final String CONFIG_FILE = "adapter_config.json";
  public static final String WEIGHTS_FILE = "adapter_model.safetensors";

  private static final Set<String> MODULES = Set.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
      "down_proj", "lm_head", "qkv_proj", "gate_up_proj");

  public LoraConfig {
    if (rank < 1) {
      throw new IllegalArgumentException("LoRA rank = " + rank + ": must be >= 1 (8 or 16 are common)");
    }
    if (!(alpha > 0)) {
      throw new IllegalArgumentException("LoRA alpha = " + alpha + ": must be > 0 (often 2 * rank)");
    }
    if (!(dropout >= 0 && dropout < 1)) {
      throw new IllegalArgumentException("LoRA dropout = " + dropout + ": must be in [0, 1)");
    }
    targetModules = List.copyOf(Objects.requireNonNull(targetModules, "targetModules"));
    if (targetModules.isEmpty()) {
      throw new IllegalArgumentException("LoRA target modules are empty: name at least one, e.g. q_proj,v_proj");
    }
    for (String m : targetModules) {
      if (!MODULES.contains(m)) {
        throw new IllegalArgumentException("LoRA target module \"" + m + "\" is not a linear layer of this model: "
            + "use any of " + MODULES.stream().sorted().toList());
      }
    }
    baseModel = baseModel == null ? "" : baseModel;
  }

  /** The same settings recorded against another base model. */
  public LoraConfig withBaseModel(String model) {
    return new LoraConfig(rank, alpha, dropout, targetModules, model);
  }

  /** {@code alpha / rank}, the factor on {@code B A}. */
  public double scale() {
    return alpha / rank;
  }

  /** The {@code adapter_config.json} object PEFT writes for these settings. */
  public ObjectNode toJson() {
    ObjectNode json = JsonNodeFactory.instance.objectNode();
    json.put("peft_type", "LORA");
    json.put("task_type", "CAUSAL_LM");
    json.put("base_model_name_or_path", baseModel);
    json.put("r", rank);
    json.put("lora_alpha", alpha);
    json.put("lora_dropout", dropout);
    json.putArray("target_modules").addAll(targetModules.stream().map(JsonNodeFactory.instance::textNode).toList());
    json.put("bias", "none");
    json.put("fan_in_fan_out", false);
    json.put("use_rslora", false);
    json.put("use_dora", false);
    json.put("init_lora_weights", true);
    json.put("inference_mode", true);
    json.putNull("modules_to_save");
    json.putNull("layers_to_transform");
    return json;
  }

  /** Reads PEFT's {@code adapter_config.json}; settings grpo4j cannot reproduce are errors that name them. */
  public static LoraConfig fromJson(JsonNode json) {
    String type = json.path("peft_type").asText("");
    if (!type.equals("LORA")) {
      throw new IllegalArgumentException("peft_type \"" + type + "\" is not supported: only LORA adapters load");
    }
    if (!json.path("bias").asText("none").equals("none")) {
      throw new IllegalArgumentException("bias \"" + json.path("bias").asText() + "\" is not supported: adapters "
          + "with trained biases need bias = none");
    }
    for (String flag : List.of("use_rslora", "use_dora", "fan_in_fan_out")) {
      if (json.path(flag).asBoolean(false)) {
        throw new IllegalArgumentException(flag + " = true is not supported");
      }
    }
    JsonNode save = json.get("modules_to_save");
    if (save != null && !save.isNull() && !save.isEmpty()) {
      throw new IllegalArgumentException("modules_to_save = " + save + " is not supported");
    }
    if (json.hasNonNull("rank_pattern") && !json.get("rank_pattern").isEmpty()
        || json.hasNonNull("alpha_pattern") && !json.get("alpha_pattern").isEmpty()) {
      throw new IllegalArgumentException("per-layer rank_pattern / alpha_pattern are not supported");
    }
    JsonNode layers = json.get("layers_to_transform");
    if (layers != null && !layers.isNull()) {
      throw new IllegalArgumentException("layers_to_transform = " + layers + " is not supported");
    }
    List<String> targets = new ArrayList<>();
    JsonNode t = json.get("target_modules");
    if (t == null || !(t.isArray() || t.isTextual())) {
      throw new IllegalArgumentException("target_modules is missing or not a list of module names");
    }
    if (t.isTextual()) {
      throw new IllegalArgumentException("target_modules = \"" + t.asText() + "\" is a regular expression or "
          + "\"all-linear\"; list the module names instead");
    }
    t.forEach(n -> targets.add(n.asText()));
    if (!json.path("r").canConvertToInt()) {
      throw new IllegalArgumentException("r is missing or not an integer");
    }
    return new LoraConfig(json.path("r").asInt(), json.path("lora_alpha").asDouble(json.path("r").asInt()),
        json.path("lora_dropout").asDouble(0), targets, json.path("base_model_name_or_path").asText(""));
  }
}
