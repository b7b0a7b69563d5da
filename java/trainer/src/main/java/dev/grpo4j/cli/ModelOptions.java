package dev.grpo4j.cli;

import dev.grpo4j.Backend;
import dev.grpo4j.model.Checkpoints;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.text.ByteTextTokenizer;
import dev.grpo4j.text.HuggingFaceTextTokenizer;
import dev.grpo4j.text.PairEncoder;
import dev.grpo4j.text.TextTokenizer;
import dev.grpo4j.train.AdapterBase;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import picocli.CommandLine.Option;

/** The model options shared by the commands that load a model: where from, adapters, dtype, device, threads. */
final class ModelOptions {
  /** Built-in randomly initialised models; they read text with the byte tokenizer plus an EOS token. */
  static final List<String> BUILT_IN = List.of("tiny-llama", "tiny-qwen2");
  /** The {@code --tokenizer} value of the byte-level tokenizer. */
  static final String BYTES = "bytes";

  @Option(names = "--model", paramLabel = "DIR|NAME",
      description = "A Hugging Face model folder (config.json, model.safetensors or its shards, tokenizer.json) of "
          + "the Llama or Qwen2 family, or a built-in randomly initialised model: tiny-llama, tiny-qwen2 (byte-level "
          + "tokens, seeded by --seed).")
  String model;

  @Option(names = "--adapter", paramLabel = "DIR",
      description = "A PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors) applied on top of "
          + "the model.")
  Path adapter;

  @Option(names = "--tokenizer", paramLabel = "DIR|bytes",
      description = "Tokenizer: a folder with tokenizer.json, or bytes (the byte-level tokenizer plus EOS of the "
          + "built-in models and of checkpoints trained from them). Default: the model's own.")
  String tokenizer;

  @Option(names = "--dtype", paramLabel = "TYPE",
      description = "Parameter dtype: float32, bfloat16 or float16 (default: float32 on cpu, bfloat16 on cuda).")
  String dtype;

  @Option(names = "--device", defaultValue = "cpu", paramLabel = "cpu|cuda",
      description = "Where the model and the kernels run (default: ${DEFAULT-VALUE}). cuda needs the GPU build of "
          + "bytedeco pytorch on the class path.")
  String device;

  @Option(names = "--threads", paramLabel = "N",
      description = "CPU threads for libtorch (default: libtorch's choice, the number of cores).")
  Integer threads;

  /** Checks that {@code --model} was given (it is optional only for {@code train --resume}). */
  void requireModel() {
    if (model == null) {
      throw new IllegalArgumentException("--model is required: a Hugging Face model folder, or tiny-llama / "
          + "tiny-qwen2");
    }
  }

  /**
   * A loaded model with its tokenizer.
   *
   * @param model in eval mode, on {@link #device}
   * @param tokenizer reads the data's text; {@code null} when not asked for
   * @param device where the model lives
   * @param backend where the fused kernels run
   * @param name the model folder or built-in name
   */
  record Loaded(TransformerLm model, TextTokenizer tokenizer, Device device, Backend backend, String name)
      implements AutoCloseable {
    @Override
    public void close() {
      if (tokenizer != null) {
        tokenizer.close();
      }
    }
  }

  /**
   * Loads the model (a built-in one initialised from {@code seed}), its tokenizer and adapters; warnings (adapters
   * applied to a base other than the one they were trained on) go to {@code err}.
   */
  Loaded load(long seed, PrintWriter err) {
    return load(seed, true, err);
  }

  /** As {@link #load(long, PrintWriter)}; without the tokenizer when {@code withTokenizer} is false. */
  Loaded load(long seed, boolean withTokenizer, PrintWriter err) {
    requireModel();
    Placement placement = placement(device, dtype, threads);
    TextTokenizer text = withTokenizer ? tokenizer(model, tokenizer) : null;
    try {
      TransformerLm lm = model(model, placement.dtype(), seed);
      if (text != null) {
        PairEncoder.requireVocabFits(text, lm.config().vocabSize());
      }
      if (adapter != null) {
        AdapterBase.mismatch(lm, adapter).ifPresent(warning -> {
          err.println("warning: " + warning);
          err.flush();
        });
        Checkpoints.loadAdapters(lm, adapter);
      }
      placement.moveTo(lm);
      lm.eval();
      return new Loaded(lm, text, placement.device(), placement.backend(), model);
    } catch (RuntimeException e) {
      if (text != null) {
        text.close();
      }
      throw e;
    }
  }

  /**
   * Where a model runs and in which dtype.
   *
   * @param device the libtorch device
   * @param dtype the parameter dtype
   * @param backend where the fused kernels run
   */
  record Placement(Device device, ScalarType dtype, Backend backend) {
    /** Moves {@code model}'s parameters to the device and dtype. */
    void moveTo(TransformerLm model) {
      model.to(device, dtype, false);
    }
  }

  /**
   * Checks {@code --device}, {@code --dtype} and {@code --threads} (null: libtorch's default) and applies the
   * thread count.
   */
  static Placement placement(String device, String dtype, Integer threads) {
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
  static TransformerLm model(String model, ScalarType dtype, long seed) {
    if (BUILT_IN.contains(model)) {
      return TransformerLm.random(ModelConfig.tiny(model, ByteTextTokenizer.withEos().vocabSize()), seed);
    }
    return Checkpoints.load(modelFolder(model), dtype);
  }

  /** {@code max_position_embeddings} of a built-in model or of the folder's {@code config.json}, without loading it. */
  static int maxPositions(String model) {
    return BUILT_IN.contains(model) ? ModelConfig.tiny(model, ByteTextTokenizer.withEos().vocabSize()).maxPositions()
        : ModelConfig.read(modelFolder(model)).maxPositions();
  }

  private static Path modelFolder(String model) {
    Path dir = Path.of(model);
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("--model " + model + ": no such folder and not a built-in model "
          + BUILT_IN);
    }
    return dir;
  }

  /**
   * The tokenizer named by {@code --tokenizer} ({@value #BYTES} or a folder with {@code tokenizer.json}), or, when
   * null, the model's: bytes for a built-in model and for a folder trained from one (it carries
   * {@link ByteTextTokenizer#MARKER_FILE}), the model folder's {@code tokenizer.json} otherwise.
   */
  static TextTokenizer tokenizer(String model, String tokenizer) {
    Path dir = tokenizerFolder(model, tokenizer);
    return dir == null ? ByteTextTokenizer.withEos() : HuggingFaceTextTokenizer.fromFolder(dir);
  }

  /**
   * The folder whose {@code tokenizer.json} {@link #tokenizer} reads, or null when it reads bytes.
   *
   * @throws IllegalArgumentException when the folder has neither {@code tokenizer.json} nor the byte marker
   */
  static Path tokenizerFolder(String model, String tokenizer) {
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
}
