package dev.grpo4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * The architecture of a Llama-family decoder as a Hugging Face {@code config.json} describes it: Llama
 * ({@code model_type "llama"}, optional q/k/v/o and MLP biases) and Qwen2 ({@code "qwen2"}: q/k/v biases always).
 *
 * <p>The JSON object the configuration was read from is kept and written back on save with only the dtype
 * changed, so fields grpo4j does not interpret ({@code bos_token_id}, {@code eos_token_id},
 * {@code initializer_range}, ...) survive a load/save round trip for transformers to read.
 *
 * @param modelType {@code "llama"} or {@code "qwen2"}
 * @param vocabSize rows of the embedding and LM head
 * @param hiddenSize model width H
 * @param intermediateSize SwiGLU width I
 * @param numLayers decoder layers
 * @param numHeads query heads
 * @param numKvHeads key/value heads (grouped-query attention when fewer than {@code numHeads})
 * @param headDim width of one head ({@code head_dim}, default {@code hiddenSize / numHeads})
 * @param rmsNormEps epsilon of every RMSNorm
 * @param rope rotary embedding parameters
 * @param maxPositions {@code max_position_embeddings}: longest sequence the checkpoint was trained for
 * @param tieWordEmbeddings LM head shares the embedding matrix
 * @param attentionBias q/k/v (and for Llama o) projections have biases
 * @param outputBias the attention output projection has a bias (Llama's {@code attention_bias}; never for Qwen2)
 * @param mlpBias gate/up/down projections have biases (Llama's {@code mlp_bias})
 * @param dtype {@code torch_dtype} (or {@code dtype}) as written: {@code "float32"}, {@code "bfloat16"} or
 *     {@code "float16"}
 * @param json the full configuration object
 */
public record ModelConfig(String modelType, int vocabSize, int hiddenSize, int intermediateSize, int numLayers,
                          int numHeads, int numKvHeads, int headDim, double rmsNormEps, Rope rope, int maxPositions,
                          boolean tieWordEmbeddings, boolean attentionBias, boolean outputBias, boolean mlpBias,
                          String dtype, ObjectNode json) {

  /** File name of the configuration inside a model folder. */
  public static final String FILE_NAME = "config.json";

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> MODEL_TYPES = List.of("llama", "qwen2");
  private static final List<String> DTYPES = List.of("float32", "bfloat16", "float16");

  /**
   * Rotary position embedding: {@code inv_freq[j] = theta^(-2j/headDim)}, rescaled by the {@code rope_scaling}
   * variants Llama checkpoints use.
   *
   * @param theta base ({@code rope_theta})
   * @param type {@code "default"}, {@code "linear"} or {@code "llama3"}
   * @param factor scaling factor (linear and llama3)
   * @param lowFreqFactor llama3's {@code low_freq_factor}
   * @param highFreqFactor llama3's {@code high_freq_factor}
   * @param originalMaxPositions llama3's {@code original_max_position_embeddings}
   */
  public record Rope(double theta, String type, double factor, double lowFreqFactor, double highFreqFactor,
                     int originalMaxPositions) {
    /** Unscaled rotary embedding with base {@code theta}. */
    public static Rope standard(double theta) {
      return new Rope(theta, "default", 1, 1, 1, 0);
    }

    /** The inverse frequencies of the {@code headDim / 2} rotated pairs. */
    public double[] inverseFrequencies(int headDim) {
      double[] inv = new double[headDim / 2];
      for (int j = 0; j < inv.length; j++) {
        inv[j] = 1.0 / Math.pow(theta, 2.0 * j / headDim);
      }
      switch (type) {
        case "linear" -> {
          for (int j = 0; j < inv.length; j++) {
            inv[j] /= factor;
          }
        }
        case "llama3" -> {
          // Long wavelengths are slowed down by the factor, short ones kept, the band between interpolated.
          double lowWavelen = originalMaxPositions / lowFreqFactor;
          double highWavelen = originalMaxPositions / highFreqFactor;
          for (int j = 0; j < inv.length; j++) {
            double wavelen = 2 * Math.PI / inv[j];
            if (wavelen > lowWavelen) {
              inv[j] /= factor;
            } else if (wavelen >= highWavelen) {
              double smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
              inv[j] = (1 - smooth) * inv[j] / factor + smooth * inv[j];
            }
          }
        }
        default -> { }
      }
      return inv;
    }
  }

  public ModelConfig {
    Objects.requireNonNull(json, "json");
    Objects.requireNonNull(rope, "rope");
    if (!MODEL_TYPES.contains(modelType)) {
      throw new IllegalArgumentException("model_type \"" + modelType + "\" is not supported: grpo4j runs "
          + MODEL_TYPES + " checkpoints (Llama, TinyLlama, SmolLM, Qwen2/Qwen2.5 ...)");
    }
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
    if (headDim % 2 != 0) {
      throw new IllegalArgumentException("head_dim = " + headDim + " is odd: rotary embedding rotates pairs");
    }
    if (!(rmsNormEps > 0)) {
      throw new IllegalArgumentException("rms_norm_eps = " + rmsNormEps + ": must be > 0");
    }
    if (!(rope.theta() > 0)) {
      throw new IllegalArgumentException("rope_theta = " + rope.theta() + ": must be > 0");
    }
    if (!DTYPES.contains(dtype)) {
      throw new IllegalArgumentException("torch_dtype \"" + dtype + "\" is not supported: use one of " + DTYPES);
    }
    if (modelType.equals("qwen2") && (outputBias || mlpBias)) {
      throw new IllegalArgumentException("qwen2 has biases on q/k/v only; outputBias and mlpBias must be false");
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
  public static ModelConfig fromJson(ObjectNode json) {
    String modelType = text(json, "model_type", null);
    if (modelType == null) {
      throw new IllegalArgumentException("model_type is missing: a Hugging Face config names its architecture");
    }
    String act = text(json, "hidden_act", "silu");
    if (!act.equals("silu")) {
      throw new IllegalArgumentException("hidden_act \"" + act + "\" is not supported: the SwiGLU MLP uses silu");
    }
    if (bool(json, "use_sliding_window", false)) {
      throw new IllegalArgumentException("use_sliding_window = true is not supported: attention is full causal");
    }
    int hidden = integer(json, "hidden_size", null);
    int heads = integer(json, "num_attention_heads", null);
    boolean qwen = "qwen2".equals(modelType);
    boolean attentionBias = qwen || bool(json, "attention_bias", false);
    String dtype = json.has("torch_dtype") ? text(json, "torch_dtype", "float32") : text(json, "dtype", "float32");
    return new ModelConfig(modelType,
        integer(json, "vocab_size", null),
        hidden,
        integer(json, "intermediate_size", null),
        integer(json, "num_hidden_layers", null),
        heads,
        integer(json, "num_key_value_heads", heads),
        integer(json, "head_dim", heads > 0 ? hidden / heads : 0),
        number(json, "rms_norm_eps", 1e-6),
        rope(json),
        integer(json, "max_position_embeddings", 2048),
        bool(json, "tie_word_embeddings", false),
        attentionBias,
        !qwen && attentionBias,
        !qwen && bool(json, "mlp_bias", false),
        dtype,
        json.deepCopy());
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

  private static Rope rope(ObjectNode json) {
    // transformers 5 moved rope_theta and rope_scaling into rope_parameters.
    JsonNode params = json.get("rope_parameters");
    JsonNode scaling = params != null && params.isObject() ? params : json.get("rope_scaling");
    double theta = params != null && params.has("rope_theta")
        ? number((ObjectNode) params, "rope_theta", 10000.0) : number(json, "rope_theta", 10000.0);
    if (scaling == null || scaling.isNull()) {
      return Rope.standard(theta);
    }
    if (!(scaling instanceof ObjectNode s)) {
      throw new IllegalArgumentException("rope_scaling must be an object or null");
    }
    String type = s.has("rope_type") ? text(s, "rope_type", "default") : text(s, "type", "default");
    return switch (type) {
      case "default" -> Rope.standard(theta);
      case "linear" -> new Rope(theta, type, number(s, "factor", null), 1, 1, 0);
      case "llama3" -> new Rope(theta, type, number(s, "factor", null), number(s, "low_freq_factor", null),
          number(s, "high_freq_factor", null), integer(s, "original_max_position_embeddings", null));
      default -> throw new IllegalArgumentException("rope_scaling type \"" + type + "\" is not supported: grpo4j "
          + "implements default, linear and llama3 rotary scaling");
    };
  }

  private static void positive(String field, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(field + " = " + value + ": must be >= 1");
    }
  }

  private static String text(ObjectNode json, String field, String fallback) {
    JsonNode v = json.get(field);
    if (v == null || v.isNull()) {
      return fallback;
    }
    if (!v.isTextual()) {
      throw new IllegalArgumentException(field + " must be a string, got " + v);
    }
    return v.asText();
  }

  private static int integer(ObjectNode json, String field, Integer fallback) {
    JsonNode v = json.get(field);
    if (v == null || v.isNull()) {
      if (fallback == null) {
        throw new IllegalArgumentException(field + " is missing");
      }
      return fallback;
    }
    if (!v.canConvertToInt() || !v.isIntegralNumber()) {
      throw new IllegalArgumentException(field + " must be an integer, got " + v);
    }
    return v.intValue();
  }

  private static double number(ObjectNode json, String field, Double fallback) {
    JsonNode v = json.get(field);
    if (v == null || v.isNull()) {
      if (fallback == null) {
        throw new IllegalArgumentException(field + " is missing");
      }
      return fallback;
    }
    if (!v.isNumber()) {
      throw new IllegalArgumentException(field + " must be a number, got " + v);
    }
    return v.doubleValue();
  }

  private static boolean bool(ObjectNode json, String field, boolean fallback) {
    JsonNode v = json.get(field);
    if (v == null || v.isNull()) {
      return fallback;
    }
    if (!v.isBoolean()) {
      throw new IllegalArgumentException(field + " must be true or false, got " + v);
    }
    return v.booleanValue();
  }
}
