package dev.grpo4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.grpo4j.io.AtomicDirectory;
import dev.grpo4j.platform.LibTorch;
import dev.grpo4j.safetensors.SafeTensorsCheckpoint;
import dev.grpo4j.text.ByteTextTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Hugging Face model folders and PEFT adapter folders in and out of a {@link TransformerLm}.
 *
 * <p>Loading reads {@code config.json} and {@code model.safetensors} (or the shards listed by
 * {@code model.safetensors.index.json}) through memory maps: the weights go from the page cache into the
 * parameters without passing through the Java heap. Saving writes the same layout, which transformers'
 * {@code from_pretrained} and PEFT's {@code PeftModel.from_pretrained} load; the folder is written next to the
 * target and renamed into place, so an interrupted save never leaves a half-written folder.
 */
public final class Checkpoints {
  static {
    LibTorch.load();
  }

  /** transformers' default shard size for {@code save_pretrained} (5 GB). */
  public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> MODEL_FOLDER_FILES = Set.of("config.json", "generation_config.json",
      "model.safetensors", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
      "special_tokens_map.json", "vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja",
      "chat_template.json", ByteTextTokenizer.MARKER_FILE);
  private static final Pattern SHARD = Pattern.compile("model-\\d{5}-of-\\d{5}\\.safetensors");

  private Checkpoints() {}

  /**
   * Loads the model in {@code dir} into parameters of {@code dtype} on the CPU (move it with
   * {@code model.to(device, dtype, false)}).
   *
   * @throws IllegalArgumentException naming the file or tensor when the folder is incomplete, the configuration is
   *     not supported, or the weights do not match the configuration
   */
  public static TransformerLm load(Path dir, ScalarType dtype) {
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("model folder " + dir + " does not exist: pass a Hugging Face model "
          + "folder (config.json + model.safetensors)");
    }
    ModelConfig config = ModelConfig.read(dir);
    TransformerLm model = Models.uninitialised(config, dtype);
    try (SafeTensorsCheckpoint weights = SafeTensorsCheckpoint.open(dir)) {
      Map<String, Tensor> parameters = model.namedParameters();
      requireSameNames(dir, weights.names(), parameters.keySet(), ignoredOnLoad(config));
      for (Map.Entry<String, Tensor> e : parameters.entrySet()) {
        weights.copyInto(e.getKey(), e.getValue());
      }
    }
    return model;
  }

  /**
   * Saves the base model (adapters excluded: merge them first with {@link LoraAdapters#merge} to save them in) as
   * {@code config.json} + safetensors in {@code dtype}, sharded above {@code maxShardBytes}, replacing
   * {@code dir} atomically.
   */
  public static void save(TransformerLm model, Path dir, ScalarType dtype, long maxShardBytes) {
    save(model, dir, dtype, maxShardBytes, folder -> { });
  }

  /**
   * As {@link #save(TransformerLm, Path, ScalarType, long)}, with {@code alsoWrite} adding files (a tokenizer) to
   * the folder before it replaces {@code dir}: the folder appears complete or not at all.
   */
  public static void save(TransformerLm model, Path dir, ScalarType dtype, long maxShardBytes,
                          AtomicDirectory.Writer alsoWrite) {
    String dtypeName = dtypeName(dtype);
    AtomicDirectory.write(dir, folder -> {
      alsoWrite.write(folder);
      Map<String, Tensor> converted = new LinkedHashMap<>();
      for (Map.Entry<String, Tensor> e : model.namedParameters().entrySet()) {
        converted.put(e.getKey(), e.getValue().detach().to(dtype));
      }
      SafeTensorsCheckpoint.save(folder, SafeTensorsCheckpoint.MODEL_PREFIX, converted, maxShardBytes, Map.of());
      model.config().write(folder, dtypeName);
    });
  }

  /** Saves the model's LoRA adapters in PEFT's layout ({@code adapter_config.json}, adapter_model.safetensors). */
  public static void saveAdapters(TransformerLm model, LoraConfig config, Path dir) {
    Map<String, Tensor> adapters = LoraAdapters.peftNamedAdapters(model);
    if (adapters.isEmpty()) {
      throw new IllegalStateException("the model has no LoRA adapters to save");
    }
    AtomicDirectory.write(dir, folder -> {
      Map<String, Tensor> detached = new LinkedHashMap<>();
      adapters.forEach((name, t) -> detached.put(name, t.detach()));
      SafeTensorsCheckpoint.save(folder, SafeTensorsCheckpoint.ADAPTER_PREFIX, detached, Long.MAX_VALUE, Map.of());
      JSON.writerWithDefaultPrettyPrinter().writeValue(folder.resolve(LoraConfig.CONFIG_FILE).toFile(),
          config.toJson());
    });
  }

  /**
   * Attaches the PEFT adapters saved in {@code dir} to {@code model} (which must not have adapters yet) and returns
   * their settings.
   */
  public static LoraConfig loadAdapters(TransformerLm model, Path dir) {
    Path configFile = dir.resolve(LoraConfig.CONFIG_FILE);
    if (!Files.isRegularFile(configFile)) {
      throw new IllegalArgumentException("no " + LoraConfig.CONFIG_FILE + " in " + dir + ": pass a PEFT adapter "
          + "folder (adapter_config.json + adapter_model.safetensors)");
    }
    LoraConfig config;
    try {
      JsonNode json = JSON.readTree(configFile.toFile());
      config = LoraConfig.fromJson(json);
    } catch (IOException e) {
      throw new IllegalArgumentException(configFile + " is not valid JSON: " + e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(configFile + ": " + e.getMessage(), e);
    }
    try (SafeTensorsCheckpoint weights = SafeTensorsCheckpoint.open(dir,
        SafeTensorsCheckpoint.ADAPTER_PREFIX + ".safetensors", SafeTensorsCheckpoint.ADAPTER_PREFIX
            + ".safetensors.index.json")) {
      LoraAdapters.attach(model, config, 0);
      Map<String, Tensor> adapters = LoraAdapters.peftNamedAdapters(model);
      requireSameNames(dir, weights.names(), adapters.keySet(), Set.of());
      for (Map.Entry<String, Tensor> e : adapters.entrySet()) {
        weights.copyInto(e.getKey(), e.getValue());
      }
    }
    return config;
  }

  /**
   * Whether {@code name} is a file Hugging Face tools or grpo4j write into a model folder (configuration, weights
   * and their index, tokenizer files): what {@code merge-adapter --overwrite} may replace.
   */
  public static boolean isModelFolderEntry(String name) {
    return MODEL_FOLDER_FILES.contains(name) || SHARD.matcher(name).matches();
  }

  /** The {@code torch_dtype} string of a floating-point dtype. */
  public static String dtypeName(ScalarType dtype) {
    return switch (dtype.intern()) {
      case Float -> "float32";
      case BFloat16 -> "bfloat16";
      case Half -> "float16";
      default -> throw new IllegalArgumentException("dtype " + dtype + " is not a model dtype: use Float, "
          + "BFloat16 or Half");
    };
  }

  /** The dtype of a {@code torch_dtype} string ({@code float32}, {@code bfloat16}, {@code float16}). */
  public static ScalarType dtypeOf(String name) {
    return switch (name) {
      case "float32", "fp32" -> ScalarType.Float;
      case "bfloat16", "bf16" -> ScalarType.BFloat16;
      case "float16", "fp16" -> ScalarType.Half;
      default -> throw new IllegalArgumentException("dtype \"" + name + "\": use float32, bfloat16 or float16");
    };
  }

  /**
   * Tensors a checkpoint may carry that the model does not load: a tied LM head (saved by some tools although it
   * is the embedding) and the rotary inverse frequencies older transformers versions stored.
   */
  private static Set<String> ignoredOnLoad(ModelConfig config) {
    Set<String> ignored = new HashSet<>();
    if (config.tieWordEmbeddings()) {
      ignored.add("lm_head.weight");
    }
    for (int i = 0; i < config.numLayers(); i++) {
      ignored.add("model.layers." + i + ".self_attn.rotary_emb.inv_freq");
    }
    return ignored;
  }

  private static void requireSameNames(Path dir, List<String> inFile, Set<String> expected, Set<String> ignored) {
    List<String> missing = new ArrayList<>();
    for (String name : expected) {
      if (!inFile.contains(name)) {
        missing.add(name);
      }
    }
    List<String> unexpected = new ArrayList<>();
    for (String name : inFile) {
      if (!expected.contains(name) && !ignored.contains(name)) {
        unexpected.add(name);
      }
    }
    if (!missing.isEmpty() || !unexpected.isEmpty()) {
      throw new IllegalArgumentException("the weights in " + dir + " do not match its configuration: "
          + (missing.isEmpty() ? "" : missing.size() + " missing (" + first(missing) + ")")
          + (missing.isEmpty() || unexpected.isEmpty() ? "" : ", ")
          + (unexpected.isEmpty() ? "" : unexpected.size() + " unexpected (" + first(unexpected) + ")")
          + "; check that config.json belongs to these weights");
    }
  }

  private static String first(List<String> names) {
    return String.join(", ", names.subList(0, Math.min(4, names.size()))) + (names.size() > 4 ? ", ..." : "");
  }
}
