package dev.grpo4j.train;

import dev.grpo4j.Backend;
import dev.grpo4j.model.Checkpoints;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.text.ByteTextTokenizer;
import dev.grpo4j.text.HuggingFaceTextTokenizer;
import dev.grpo4j.text.TextTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Where a model and its tokenizer come from (a Hugging Face folder or a built-in model), and where it runs: what the
 * {@code --model}, {@code --tokenizer}, {@code --dtype}, {@code --device} and {@code --threads} options of every
 * command mean.
 */
public final class ModelSource {
  /** Built-in randomly initialised models; they read text with the byte tokenizer plus an EOS token. */
  public static final List<String> BUILT_IN = List.of("tiny-llama", "tiny-qwen2");
  /** The {@code --tokenizer} value of the byte-level tokenizer. */
  public static final String BYTES = "bytes";

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
    }
    boolean cuda = switch (device) {
      case "cpu" -> false;
      case "cuda" -> true;
      default -> throw new IllegalArgumentException("--device \"" + device + "\": use cpu or cuda");
    };
    if (cuda && !torch.cuda_is_available()) {
      throw new IllegalArgumentException("--device cuda: libtorch sees no CUDA device. The bundled bytedeco "
          + "pytorch is the CPU build; put the GPU build (classifier linux-x86_64-gpu) on the class path on a "
          + "machine with an NVIDIA GPU, or use --device cpu");
    }
    ScalarType type = Checkpoints.dtypeOf(dtype != null ? dtype : cuda ? "bfloat16" : "float32");
    return new Placement(new Device(device), type, cuda ? Backend.CUDA : Backend.CPU);
  }

  /** A built-in model initialised from {@code seed}, or the model in the folder {@code model}, on the CPU. */
  public static TransformerLm model(String model, ScalarType dtype, long seed) {
    if (BUILT_IN.contains(model)) {
      return TransformerLm.random(ModelConfig.tiny(model, ByteTextTokenizer.withEos().vocabSize()), seed);
    }
    return Checkpoints.load(modelFolder(model), dtype);
  }

  /** {@code max_position_embeddings} of a built-in model or of the folder's {@code config.json}, without loading it. */
  public static int maxPositions(String model) {
    return BUILT_IN.contains(model) ? ModelConfig.tiny(model, ByteTextTokenizer.withEos().vocabSize()).maxPositions()
        : ModelConfig.read(modelFolder(model)).maxPositions();
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

  private static Path modelFolder(String model) {
    Path dir = Path.of(model);
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("--model " + model + ": no such folder and not a built-in model "
          + BUILT_IN);
    }
    return dir;
  }
}
