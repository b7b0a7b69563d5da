package dev.grpo4j.cli;

import dev.grpo4j.Backend;
import dev.grpo4j.model.Checkpoints;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.text.PairEncoder;
import dev.grpo4j.torch.CausalLm;
import dev.grpo4j.torch.FusedHeadSettings;
import dev.grpo4j.torch.FusedLmHead;
import dev.grpo4j.text.TextTokenizer;
import dev.grpo4j.train.AdapterBase;
import dev.grpo4j.train.ModelSource;
import java.io.PrintWriter;
import java.nio.file.Path;
import org.bytedeco.pytorch.Device;
import picocli.CommandLine.Option;

/** The model options shared by the commands that load a model: where from, adapters, dtype, device, threads. */
final class ModelOptions {
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
      description = "Where the model and the kernels run (default: ${DEFAULT-VALUE}). cuda needs the GPU build "
          + "(./mvnw -Pgpu) and CUDA 13's libraries with cuDNN 9 and NCCL 2.")
  String device;

  @Option(names = "--threads", paramLabel = "N",
      description = "CPU threads for libtorch (default: libtorch's choice, the number of cores).")
  Integer threads;

  @Option(names = "--fused-head", defaultValue = "auto", paramLabel = "auto|on|off",
      description = "Take the preference loss straight from the last hidden states, chunk by chunk, so that the "
          + "[tokens x vocab] logits never exist (default: ${DEFAULT-VALUE}: whenever the model allows; off: the "
          + "whole logits, as before).")
  String fusedHead;

  @Option(names = "--fused-head-memory", defaultValue = "256", paramLabel = "MB",
      description = "Memory one chunk of the fused head's logits may take, and the per-group sums of the head's "
          + "gradient beyond the first (else every chunk is computed twice) (default: ${DEFAULT-VALUE} MB).")
  long fusedHeadMemoryMb;

  /** The fused-head options as settings. */
  FusedHeadSettings fusedHeadSettings() {
    if (fusedHeadMemoryMb < 1) {
      throw new IllegalArgumentException("--fused-head-memory = " + fusedHeadMemoryMb + ": must be >= 1 (MB)");
    }
    return new FusedHeadSettings(FusedHeadSettings.Mode.named(fusedHead), fusedHeadMemoryMb << 20);
  }

  /** The fused head for {@code model} on {@code backend} as the options ask, or null for the whole logits. */
  FusedLmHead fusedHead(CausalLm model, Backend backend) {
    return fusedHeadSettings().resolve(model, backend, threads == null ? 0 : threads, 0);
  }

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
    ModelSource.Placement placement = ModelSource.placement(device, dtype, threads);
    TextTokenizer text = withTokenizer ? ModelSource.tokenizer(model, tokenizer) : null;
    try {
      TransformerLm lm = ModelSource.model(model, placement.dtype(), seed);
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
}
