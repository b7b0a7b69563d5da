package dev.grpo4j.model.family;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.grpo4j.model.Checkpoints;
import dev.grpo4j.model.DecoderOptions;
import dev.grpo4j.model.DecoderOptions.LayerAttention;
import dev.grpo4j.model.FamilyGoldens;
import dev.grpo4j.model.LoraAdapters;
import dev.grpo4j.model.LoraConfig;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Rope;
import dev.grpo4j.model.TransformerLm;
import java.io.IOException;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

/**
 * The registry: which {@code model_type}s run, the lines that refuse the others, and the defaults each family's
 * transformers configuration class gives the fields a {@code config.json} leaves out.
 */
class ModelFamiliesTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void everyGoldenFamilyIsRegisteredAndEveryRegisteredFamilyHasGoldens() throws Exception {
    Set<String> registered = ModelFamilies.all().stream().map(ModelFamily::modelType).collect(Collectors.toSet());
    Set<String> withGoldens = FamilyGoldens.families().filter(f -> !f.equals("phi3_longrope"))
        .collect(Collectors.toSet());
    assertEquals(registered, withGoldens);
    for (ModelFamily f : ModelFamilies.all()) {
      assertTrue(!f.examples().isBlank() && !f.differences().isBlank(), f.modelType());
    }
  }

  @Test
  void otherModelTypesAreRefusedByALineThatSaysWhy() {
    assertMessage(() -> ModelFamilies.of("qwen2_moe"), "model_type \"qwen2_moe\" is a mixture-of-experts model grpo4j "
        + "does not run yet");
    assertMessage(() -> ModelFamilies.of("olmoe"), "mixture-of-experts");
    assertMessage(() -> ModelFamilies.of("gemma3"), "multimodal checkpoint");
    assertMessage(() -> ModelFamilies.of("gpt2"), "model_type \"gpt2\" is not supported: grpo4j runs llama, qwen2, "
        + "qwen3, mistral, ministral, gemma, gemma2, gemma3_text, phi3, olmo2, smollm3, granite, qwen3_moe, mixtral");
  }

  @Test
  void badLayerSettingsNameTheField() throws IOException {
    ObjectNode gemma2 = config("gemma2");
    gemma2.putNull("sliding_window");
    assertMessage(() -> ModelConfig.fromJson(gemma2), "sliding_window is null");
    ObjectNode ministral = config("ministral");
    ministral.putArray("layer_types").add("sliding_attention").add("full_attention");
    assertMessage(() -> ModelConfig.fromJson(ministral), "layer_types has 2 entries but the model has 3 layers");
    ObjectNode chunked = config("ministral");
    chunked.putArray("layer_types").add("chunked_attention").add("full_attention").add("full_attention");
    assertMessage(() -> ModelConfig.fromJson(chunked), "layer_types entry \"chunked_attention\" is not supported");
    ObjectNode bidirectional = config("gemma3_text");
    bidirectional.put("use_bidirectional_attention", true);
    assertMessage(() -> ModelConfig.fromJson(bidirectional), "use_bidirectional_attention = true is not supported");
    ObjectNode relu = config("qwen3");
    relu.put("hidden_act", "relu");
    assertMessage(() -> ModelConfig.fromJson(relu), "hidden_act \"relu\" is not supported");
    ObjectNode yarn = config("phi3");
    yarn.putObject("rope_parameters").put("rope_type", "yarn").put("factor", 4.0);
    assertMessage(() -> ModelConfig.fromJson(yarn), "rope_scaling type \"yarn\" is not supported");
    ObjectNode routerLoss = config("qwen3_moe");
    routerLoss.put("output_router_logits", true);
    assertMessage(() -> ModelConfig.fromJson(routerLoss), "output_router_logits = true (the router's load-balancing "
        + "loss) is not supported");
    ObjectNode jitter = config("mixtral");
    jitter.put("router_jitter_noise", 0.1);
    assertMessage(() -> ModelConfig.fromJson(jitter), "router_jitter_noise = 0.1 is not supported");
    ObjectNode longrope = config("phi3_longrope");
    ((ObjectNode) longrope.get("rope_parameters")).putArray("short_factor").add(1.0);
    assertMessage(() -> ModelConfig.fromJson(longrope), "rope_scaling has 1 factors for 4 rotated pairs");
  }

  @Test
  void fieldsLeftOutTakeTheFamilysDefaults() throws IOException {
    ObjectNode gemma2 = config("gemma2");
    gemma2.remove(List.of("attn_logit_softcapping", "final_logit_softcapping", "layer_types", "head_dim"));
    DecoderOptions d = ModelConfig.fromJson(gemma2).decoder();
    assertEquals(50.0, d.attentionSoftcap());
    assertEquals(30.0, d.finalSoftcap());
    assertEquals(List.of(5, 0, 5), d.layers().stream().map(LayerAttention::slidingWindow).toList());
    assertEquals(256, ModelConfig.fromJson(gemma2).headDim());
    ObjectNode nullCaps = config("gemma2");
    nullCaps.putNull("attn_logit_softcapping");
    nullCaps.putNull("final_logit_softcapping");
    assertEquals(0.0, ModelConfig.fromJson(nullCaps).decoder().attentionSoftcap(), "null switches it off");
    assertEquals(0.0, ModelConfig.fromJson(nullCaps).decoder().finalSoftcap());

    ObjectNode qwen2 = config("qwen2");
    qwen2.put("use_sliding_window", true);
    qwen2.put("sliding_window", 7);
    qwen2.put("max_window_layers", 1);
    qwen2.remove("layer_types");
    assertEquals(List.of(0, 7, 7), windows(qwen2), "Qwen2 slides from max_window_layers on");
    ObjectNode qwen2Off = config("qwen2");
    qwen2Off.put("sliding_window", 7);
    assertEquals(List.of(0, 0, 0), windows(qwen2Off), "without use_sliding_window the window is ignored");

    ObjectNode smol = config("smollm3");
    smol.put("num_hidden_layers", 8);
    smol.remove("no_rope_layers");
    smol.remove("layer_types");
    List<Boolean> rotated = ModelConfig.fromJson(smol).decoder().layers().stream().map(l -> l.rope() != null)
        .toList();
    assertEquals(List.of(true, true, true, false, true, true, true, false), rotated, "every fourth layer is NoPE");

    ObjectNode gemma3 = config("gemma3_text");
    gemma3.put("num_hidden_layers", 7);
    gemma3.remove("layer_types");
    gemma3.remove("rope_parameters");
    DecoderOptions g3 = ModelConfig.fromJson(gemma3).decoder();
    assertEquals(List.of(5, 5, 5, 5, 5, 0, 5), g3.layers().stream().map(LayerAttention::slidingWindow).toList());
    assertEquals(1_000_000.0, g3.layers().get(5).rope().theta(), "full layers: rope_theta's default");
    assertEquals(10_000.0, g3.layers().get(0).rope().theta(), "sliding layers: rope_local_base_freq's default");
    assertNull(config("llama").get("layer_types"));
  }

  @Test
  void transformersDefaultConfigsOfEveryFamilyParse() throws Exception {
    JsonNode all = JSON.readTree(FamilyGoldens.folder().resolve("default_configs.json").toFile());
    Set<String> registered = ModelFamilies.all().stream().map(ModelFamily::modelType).collect(Collectors.toSet());
    Set<String> described = new java.util.HashSet<>();
    all.fieldNames().forEachRemaining(described::add);
    assertEquals(registered, described);
    for (String type : registered) {
      ModelConfig c = ModelConfig.fromJson((ObjectNode) all.get(type));
      assertEquals(type, c.modelType());
      assertEquals(all.get(type).get("num_hidden_layers").asInt(), c.decoder().layers().size(), type);
    }
    DecoderOptions gemma3 = ModelConfig.fromJson((ObjectNode) all.get("gemma3_text")).decoder();
    assertEquals(List.of(4096, 4096, 4096, 4096, 4096, 0), gemma3.layers().subList(0, 6).stream()
        .map(LayerAttention::slidingWindow).toList(), "five sliding layers to one full");
    assertEquals(1_000_000.0, gemma3.layers().get(5).rope().theta());
    assertEquals(10_000.0, gemma3.layers().get(0).rope().theta());
    DecoderOptions.Experts qwen3Moe = ModelConfig.fromJson((ObjectNode) all.get("qwen3_moe")).decoder().experts();
    assertEquals(List.of(128, 8, 768), List.of(qwen3Moe.count(), qwen3Moe.topK(), qwen3Moe.intermediate()));
    DecoderOptions.Experts mixtral = ModelConfig.fromJson((ObjectNode) all.get("mixtral")).decoder().experts();
    assertEquals(List.of(8, 2, 14336), List.of(mixtral.count(), mixtral.topK(), mixtral.intermediate()));
  }

  @Test
  void configsWrittenByTransformers4ParseToo() throws Exception {
    // transformers 4 wrote rope_theta and rope_scaling (with "type" in older files) instead of rope_parameters.
    ObjectNode phi35 = config("phi3_longrope");
    phi35.remove("rope_parameters");
    phi35.put("rope_theta", 10000.0);
    ObjectNode scaling = phi35.putObject("rope_scaling").put("type", "longrope");
    scaling.putArray("short_factor").add(1.0).add(1.3).add(2.1).add(3.7);
    scaling.putArray("long_factor").add(1.0).add(2.0).add(5.0).add(11.0);
    ModelConfig legacy = ModelConfig.fromJson(phi35);
    assertEquals(ModelConfig.read(FamilyGoldens.folder().resolve("phi3_longrope")).decoder(), legacy.decoder(),
        "the same rotation from either layout");
    ObjectNode llama32 = config("llama");
    llama32.remove("rope_parameters");
    llama32.put("rope_theta", 500000.0);
    llama32.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 32.0).put("low_freq_factor", 1.0)
        .put("high_freq_factor", 4.0).put("original_max_position_embeddings", 8192);
    assertEquals("llama3", ModelConfig.fromJson(llama32).decoder().layers().get(0).rope().type());
    ObjectNode gemma3 = config("gemma3_text");
    gemma3.remove("rope_parameters");
    gemma3.put("rope_theta", 1_000_000.0);
    gemma3.put("rope_local_base_freq", 10_000.0);
    gemma3.putObject("rope_scaling").put("rope_type", "linear").put("factor", 8.0);
    DecoderOptions g3 = ModelConfig.fromJson(gemma3).decoder();
    assertEquals(new Rope(1_000_000.0, "linear", 8.0, 1, 1, 0), g3.layers().get(2).rope(), "full layers scaled");
    assertEquals(Rope.standard(10_000.0), g3.layers().get(0).rope(), "sliding layers: the local base, unscaled");
  }

  @Test
  void loraTargetsAreTheFamilysLinearLayers() throws Exception {
    TransformerLm phi3 = Checkpoints.load(FamilyGoldens.folder().resolve("phi3"), ScalarType.Float);
    assertEquals(List.of("qkv_proj", "o_proj", "gate_up_proj", "down_proj", "lm_head"),
        LoraAdapters.linearLayers(phi3));
    assertMessage(() -> LoraAdapters.attach(phi3, new LoraConfig(2, 4, 0, List.of("q_proj", "o_proj"), null), 1),
        "LoRA target modules [q_proj] are not linear layers of this phi3 model: its linear layers are [qkv_proj, "
            + "o_proj, gate_up_proj, down_proj, lm_head]");
    TransformerLm moe = Checkpoints.load(FamilyGoldens.folder().resolve("qwen3_moe"), ScalarType.Float);
    assertEquals(List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"),
        LoraAdapters.linearLayers(moe), "the dense layer's MLP, not the experts or the router");
    assertEquals(List.of(true, false, true), moe.config().decoder().experts().sparse(), "mlp_only_layers = [1]");
    TransformerLm gemma = Checkpoints.load(FamilyGoldens.folder().resolve("gemma"), ScalarType.Float);
    assertMessage(() -> LoraAdapters.attach(gemma, new LoraConfig(2, 4, 0, List.of("lm_head"), null), 1),
        "[lm_head] are not linear layers of this gemma model");
  }

  private static List<Integer> windows(ObjectNode json) {
    return ModelConfig.fromJson(json).decoder().layers().stream().map(LayerAttention::slidingWindow).toList();
  }

  private static ObjectNode config(String folder) throws IOException {
    try {
      return (ObjectNode) JSON.readTree(FamilyGoldens.folder().resolve(folder).resolve("config.json").toFile());
    } catch (java.net.URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void assertMessage(org.junit.jupiter.api.function.Executable call, String fragment) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().contains(fragment), e.getMessage());
  }
}
