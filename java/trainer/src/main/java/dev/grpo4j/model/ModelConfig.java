package dev.grpo4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.grpo4j.model.family.ModelFamilies;
import dev.grpo4j.model.family.ModelFamily;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * A decoder-only model as a Hugging Face {@code config.json} describes it: the shared dimensions, and the family's
 * {@link DecoderOptions} (what its {@code model_type} changes in the shared decoder; see
 * {@link ModelFamilies}).
 *
 * <p>The JSON object the configuration was read from is kept and written back on save with only the dtype
 * changed, so fields grpo4j does not interpret ({@code bos_token_id}, {@code eos_token_id},
 * {@code initializer_range}, ...) survive a load/save round trip for transformers to read.
 *
 * @param modelType the family's {@code model_type}
 * @param vocabSize rows of the embedding and LM head
 * @param hiddenSize model width H
 * @param intermediateSize gated MLP width I
 * @param numLayers decoder layers
 * @param numHeads query heads
 * @param numKvHeads key/value heads (grouped-query attention when fewer than {@code numHeads})
 * @param headDim width of one head ({@code head_dim}, the family's default when absent)
 * @param rmsNormEps epsilon of every RMSNorm
 * @param maxPositions {@code max_position_embeddings}: longest sequence the checkpoint was trained for
 * @param tieWordEmbeddings LM head shares the embedding matrix
 * @param decoder what the family changes in the shared decoder
 * @param dtype {@code torch_dtype} (or {@code dtype}) as written: {@code "float32"}, {@code "bfloat16"} or
 *     {@code "float16"}
 * @param json the full configuration object
 */
public record ModelConfig(String modelType, int vocabSize, int hiddenSize, int intermediateSize, int numLayers,
                          int numHeads, int numKvHeads, int headDim, double rmsNormEps, int maxPositions,
                          boolean tieWordEmbeddings, DecoderOptions decoder, String dtype, ObjectNode json) {

  /** File name of the configuration inside a model folder. */
  public static final String FILE_NAME = "config.json";

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> DTYPES = List.of("float32", "bfloat16", "float16");

  public ModelConfig {
    Objects.requireNonNull(json, "json");
    Objects.requireNonNull(decoder, "decoder");
    ModelFamilies.of(modelType);
    positive("vocab_size", vocabSize);
    positive("hidden_size", hiddenSize);
    positive("intermediate_size", intermediateSize);
    positive("num_hidden_layers", numLayers);
    positive("num_attention_heads", numHeads);
    positive("num_key_value_heads", numKvHeads);
    positive("head_dim", headDim);
    positive("max_position_embeddings", maxPositions);
    if (numHeads % numKvHeads != 0) {
      throw new IllegalArgumentException("num_attention_heads = " + numHeads + " is not a multiple of "
          + "num_key_value_heads = " + numKvHeads + ": grouped-query attention shares each key/value head between "
          + "a whole number of query heads");
    }
    if (decoder.rotaryDim(headDim) % 2 != 0 || decoder.rotaryDim(headDim) < 2) {
      throw new IllegalArgumentException("head_dim = " + headDim + " rotates " + decoder.rotaryDim(headDim)
          + " features: rotary embedding rotates pairs, so that must be even and >= 2");
    }
    for (DecoderOptions.LayerAttention layer : decoder.layers()) {
      if (layer.rope() != null) {
        // Checks that longrope's factors cover the rotated pairs, for short and long rows alike.
        layer.rope().inverseFrequencies(decoder.rotaryDim(headDim), 1);
        layer.rope().inverseFrequencies(decoder.rotaryDim(headDim), Long.MAX_VALUE);
      }
    }
    if (decoder.layers().size() != numLayers) {
      throw new IllegalArgumentException(decoder.layers().size() + " layer settings for num_hidden_layers = "
          + numLayers);
    }
    if (!(rmsNormEps > 0)) {
      throw new IllegalArgumentException("rms_norm_eps = " + rmsNormEps + ": must be > 0");
    }
    if (!DTYPES.contains(dtype)) {
      throw new IllegalArgumentException("torch_dtype \"" + dtype + "\" is not supported: use one of " + DTYPES);
    }
  }

  /** Reads {@code dir/config.json}. */
  public static ModelConfig read(Path dir) {
    Path file = dir.resolve(FILE_NAME);
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("no " + FILE_NAME + " in " + dir + ": pass a Hugging Face model folder "
          + "(config.json + model.safetensors) or a built-in model name");
    }
    JsonNode node;
    try {
      node = JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new IllegalArgumentException(file + " is not valid JSON: " + e.getMessage(), e);
    }
    if (!(node instanceof ObjectNode object)) {
      throw new IllegalArgumentException(file + " does not hold a JSON object");
    }
    try {
      return fromJson(object);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }
  }

  /** Interprets a {@code config.json} object; unknown fields are kept but not used. */
  public static ModelConfig fromJson(ObjectNode node) {
    ConfigJson json = new ConfigJson(node);
    String modelType = json.text("model_type", null);
    if (modelType == null) {
      throw new IllegalArgumentException("model_type is missing: a Hugging Face config names its architecture");
    }
    ModelFamily family = ModelFamilies.of(modelType);
    int hidden = json.integer("hidden_size", null);
    int heads = json.integer("num_attention_heads", null);
    int layers = json.integer("num_hidden_layers", null);
    positive("num_hidden_layers", layers);
    positive("num_attention_heads", heads);
    String dtype = node.has("torch_dtype") ? json.text("torch_dtype", "float32") : json.text("dtype", "float32");
    return new ModelConfig(modelType,
        json.integer("vocab_size", null),
        hidden,
        json.integer("intermediate_size", null),
        layers,
        heads,
        json.integer("num_key_value_heads", heads),
        json.integer("head_dim", family.defaultHeadDim(hidden, heads)),
        json.number("rms_norm_eps", family.defaultNormEps()),
        json.integer("max_position_embeddings", 2048),
        json.bool("tie_word_embeddings", family.defaultTiedHead()),
        family.decoder(json, layers),
        dtype,
        node.deepCopy());
  }

  /**
   * A small randomly initialised architecture for demos and tests, named {@code tiny-llama} or {@code tiny-qwen2}:
   * two layers, width 64, four query heads sharing two key/value heads, over {@code vocabSize} tokens (e.g. 257:
   * the byte tokenizer plus EOS). The Qwen2 variant ties the LM head to the embedding.
   */
  public static ModelConfig tiny(String name, int vocabSize) {
    String modelType = switch (name) {
      case "tiny-llama" -> "llama";
      case "tiny-qwen2" -> "qwen2";
      default -> throw new IllegalArgumentException("unknown built-in model \"" + name + "\": use tiny-llama or "
          + "tiny-qwen2, or a Hugging Face model folder");
    };
    ObjectNode json = JSON.createObjectNode();
    json.putArray("architectures").add(modelType.equals("llama") ? "LlamaForCausalLM" : "Qwen2ForCausalLM");
    json.put("model_type", modelType);
    json.put("vocab_size", vocabSize);
    json.put("hidden_size", 64);
    json.put("intermediate_size", 176);
    json.put("num_hidden_layers", 2);
    json.put("num_attention_heads", 4);
    json.put("num_key_value_heads", 2);
    json.put("hidden_act", "silu");
    json.put("rms_norm_eps", 1e-6);
    json.put("rope_theta", 10000.0);
    json.put("max_position_embeddings", 512);
    json.put("tie_word_embeddings", modelType.equals("qwen2"));
    json.put("initializer_range", 0.02);
    json.put("torch_dtype", "float32");
    if (modelType.equals("llama")) {
      json.put("attention_bias", false);
      json.put("mlp_bias", false);
    }
    return fromJson(json);
  }

  /** Query-head groups per key/value head. */
  public int queriesPerKv() {
    return numHeads / numKvHeads;
  }

  /** The configuration object to write next to weights saved in {@code savedDtype}. */
  public ObjectNode toJson(String savedDtype) {
    ObjectNode out = json.deepCopy();
    if (out.has("dtype") && !out.has("torch_dtype")) {
      out.put("dtype", savedDtype);
    } else {
      out.put("torch_dtype", savedDtype);
    }
    return out;
  }

  /** Writes {@code dir/config.json} for weights saved in {@code savedDtype}. */
  public void write(Path dir, String savedDtype) throws IOException {
    JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve(FILE_NAME).toFile(), toJson(savedDtype));
  }

  private static void positive(String field, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(field + " = " + value + ": must be >= 1");
    }
  }
}
