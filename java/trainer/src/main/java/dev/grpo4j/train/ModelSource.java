package dev.grpo4j.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.grpo4j.Backend;
import dev.grpo4j.chat.ChatTemplate;
import dev.grpo4j.model.Checkpoints;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Models;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.platform.CudaStreams;
import dev.grpo4j.platform.LibTorch;
import dev.grpo4j.text.ByteTextTokenizer;
import dev.grpo4j.text.HuggingFaceTextTokenizer;
import dev.grpo4j.text.TextTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Where a model and its tokenizer come from (a Hugging Face folder or a built-in model), and where it runs: what the
 * {@code --model}, {@code --tokenizer}, {@code --dtype}, {@code --device} and {@code --threads} options of every
 * command mean.
 */
public final class ModelSource {
  static {
    LibTorch.load();
  }

  /** Built-in randomly initialised models; they read text with the byte tokenizer plus an EOS token. */
  public static final List<String> BUILT_IN = List.of("tiny-llama", "tiny-qwen2");
  /** The {@code --tokenizer} value of the byte-level tokenizer. */
  public static final String BYTES = "bytes";
  /** The {@code --chat-template} value of {@link ChatTemplate#CHATML}. */
  public static final String CHATML = "chatml";

  private ModelSource() {}

  /**
   * Where a model runs and in which dtype.
   *
   * @param device the libtorch device
   * @param dtype the parameter dtype
   * @param backend where the fused kernels run
   */
  public record Placement(Device device, ScalarType dtype, Backend backend) {
    /** Moves {@code model}'s parameters to the device and dtype. */
    public void moveTo(TransformerLm model) {
      model.to(device, dtype, false);
    }

    /**
     * The {@code cudaStream_t} of libtorch's current stream on this placement's GPU, for the fused kernels to run in
     * order with libtorch's ops; 0 on the CPU.
     */
    public long cudaStream() {
      return backend == Backend.CUDA ? CudaStreams.current(device.has_index() ? device.index() : -1) : 0;
    }
  }

  /**
   * Checks {@code --device}, {@code --dtype} and {@code --threads} (null: libtorch's default) and applies the
   * thread count.
   */
  public static Placement placement(String device, String dtype, Integer threads) {
    if (threads != null) {
      if (threads < 1) {
        throw new IllegalArgumentException("--threads = " + threads + ": must be >= 1");
      }
      torch.set_num_threads(threads);
      // Without this, --threads 1 still multiplies matrices on every core.
      LibTorch.setBlasThreads(threads);
    }
    boolean cuda = checkDevice(device);
    ScalarType type = Checkpoints.dtypeOf(dtype != null ? dtype : cuda ? "bfloat16" : "float32");
    return new Placement(new Device(device), type, cuda ? Backend.CUDA : Backend.CPU);
  }

  /**
   * Checks {@code --device}: {@code cpu}, {@code cuda} or {@code cuda:N}, the last two only where the loaded libtorch
   * sees a CUDA device (else the message says why not: the CPU build, CUDA's libraries missing, no GPU).
   *
   * @return whether the device is a GPU
   */
  public static boolean checkDevice(String device) {
    boolean cuda = device.equals("cuda") || device.matches("cuda:[0-9]+");
    if (!cuda && !device.equals("cpu")) {
      throw new IllegalArgumentException("--device \"" + device + "\": use cpu or cuda");
    }
    if (cuda && !torch.cuda_is_available()) {
      String why = LibTorch.cudaUnavailable().orElse("the GPU libtorch is loaded but sees no CUDA device (no GPU, no "
          + "driver, or CUDA_VISIBLE_DEVICES hides them: nvidia-smi shows what the driver sees)");
      throw new IllegalArgumentException("--device " + device + ": " + why + "; or use --device cpu");
    }
    return cuda;
  }

  /** A built-in model initialised from {@code seed}, or the model in the folder {@code model}, on the CPU. */
  public static TransformerLm model(String model, ScalarType dtype, long seed) {
    if (BUILT_IN.contains(model)) {
      return Models.random(ModelConfig.tiny(model, ByteTextTokenizer.withEos().vocabSize()), seed);
    }
    return Checkpoints.load(modelFolder(model), dtype);
  }

  /** {@code max_position_embeddings} of a built-in model or of the folder's {@code config.json}, without loading it. */
  public static int maxPositions(String model) {
    return config(model).maxPositions();
  }

  /** The configuration of a built-in model or of the folder's {@code config.json}, without loading the weights. */
  public static ModelConfig config(String model) {
    return BUILT_IN.contains(model) ? ModelConfig.tiny(model, ByteTextTokenizer.withEos().vocabSize())
        : ModelConfig.read(modelFolder(model));
  }

  /**
   * The tokenizer named by {@code --tokenizer} ({@value #BYTES} or a folder with {@code tokenizer.json}), or, when
   * null, the model's: bytes for a built-in model and for a folder trained from one (it carries
   * {@link ByteTextTokenizer#MARKER_FILE}), the model folder's {@code tokenizer.json} otherwise.
   */
  public static TextTokenizer tokenizer(String model, String tokenizer) {
    Path dir = tokenizerFolder(model, tokenizer);
    return dir == null ? ByteTextTokenizer.withEos() : HuggingFaceTextTokenizer.fromFolder(dir);
  }

  /**
   * The folder whose {@code tokenizer.json} {@link #tokenizer} reads, or null when it reads bytes.
   *
   * @throws IllegalArgumentException when the folder has neither {@code tokenizer.json} nor the byte marker
   */
  public static Path tokenizerFolder(String model, String tokenizer) {
    String source = tokenizer != null ? tokenizer : BUILT_IN.contains(model) ? BYTES : model;
    if (source.equals(BYTES)) {
      return null;
    }
    Path dir = tokenizer != null ? Path.of(source) : modelFolder(source);
    if (Files.isRegularFile(dir.resolve("tokenizer.json"))) {
      return dir;
    }
    if (ByteTextTokenizer.isMarked(dir)) {
      return null;
    }
    throw new IllegalArgumentException((tokenizer != null ? "--tokenizer " : "--model ") + source + " has no "
        + "tokenizer.json: pass --tokenizer DIR (a folder with tokenizer.json), or --tokenizer " + BYTES
        + " for the byte-level tokenizer of the built-in models");
  }

  /**
   * The chat template for conversational data: {@code --chat-template} ({@value #CHATML} or a Jinja file) if given,
   * else the tokenizer folder's own (see {@link ChatTemplate#fromModelFolder}); special tokens come from the
   * tokenizer folder.
   *
   * @param model {@code --model}
   * @param tokenizer {@code --tokenizer}, or null
   * @param chatTemplate {@code --chat-template}, or null
   * @param kwargs {@code --chat-template-kwargs}, a JSON object of more template variables, or null
   * @throws IllegalArgumentException if there is none, saying how to give one, or if {@code kwargs} is not a JSON
   *     object
   */
  public static ChatTemplate chatTemplate(String model, String tokenizer, String chatTemplate, String kwargs) {
    Map<String, Object> variables = templateVariables(kwargs);
    Path tokens = tokenizerFolder(model, tokenizer);
    if (chatTemplate != null) {
      return (chatTemplate.equals(CHATML) ? ChatTemplate.chatml(tokens)
          : ChatTemplate.fromFile(Path.of(chatTemplate), tokens)).withVariables(variables).requireUsable();
    }
    return (tokens == null ? Optional.<ChatTemplate>empty() : ChatTemplate.fromModelFolder(tokens))
        .map(t -> t.withVariables(variables).requireUsable())
        .orElseThrow(() -> new IllegalArgumentException("the data is conversational (chat messages) but "
            + (tokens == null ? "the model " + model + " reads bytes and has no chat template"
                : tokens + " has no chat template (no " + ChatTemplate.TEMPLATE_FILE + ", no chat_template in "
                    + ChatTemplate.TOKENIZER_CONFIG + ")")
            + ": pass --chat-template FILE, or --chat-template " + CHATML + " for the generic ChatML format"));
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> templateVariables(String kwargs) {
    if (kwargs == null) {
      return Map.of();
    }
    try {
      JsonNode node = new ObjectMapper().readTree(kwargs);
      if (node == null || !node.isObject()) {
        throw new IllegalArgumentException("--chat-template-kwargs " + kwargs + ": must be a JSON object, e.g. "
            + "'{\"enable_thinking\": false}'");
      }
      return new ObjectMapper().convertValue(node, Map.class);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("--chat-template-kwargs is not valid JSON: " + e.getOriginalMessage(), e);
    }
  }

  private static Path modelFolder(String model) {
    Path dir = Path.of(model);
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("--model " + model + ": no such folder and not a built-in model "
          + BUILT_IN);
    }
    return dir;
  }
}
