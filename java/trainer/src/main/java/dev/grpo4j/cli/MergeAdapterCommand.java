package dev.grpo4j.cli;

import dev.grpo4j.model.Checkpoints;
import dev.grpo4j.model.LoraAdapters;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code grpo4j merge-adapter}: a base model plus PEFT LoRA adapters saved as one full Hugging Face model. */
@Command(name = "merge-adapter",
    sortOptions = false,
    description = {
        "Folds the LoRA adapters of --adapter into the weights of --model (W += alpha/r * B A) and saves a full "
            + "Hugging Face model folder (config.json + safetensors, sharded above 5 GB) that transformers loads "
            + "without PEFT. The tokenizer files are not copied.",
        ""})
public final class MergeAdapterCommand implements Callable<Integer>, UsesLibTorch {
  @Spec
  private CommandSpec spec;

  @Mixin
  private ModelOptions modelOptions;

  @Option(names = "--out", required = true, paramLabel = "DIR",
      description = "Output folder; replaced atomically if it exists.")
  private Path out;

  @Option(names = "--save-dtype", defaultValue = "bfloat16", paramLabel = "TYPE",
      description = "dtype of the saved weights: float32, bfloat16 or float16 (default: ${DEFAULT-VALUE}).")
  private String saveDtype;

  @Override
  public Integer call() {
    if (modelOptions.adapter == null) {
      throw new ParameterException(spec.commandLine(), "Missing required option: '--adapter=DIR'");
    }
    try (ModelOptions.Loaded m = modelOptions.load(0, false)) {
      LoraAdapters.merge(m.model());
      Checkpoints.save(m.model(), out, Checkpoints.dtypeOf(saveDtype), Checkpoints.DEFAULT_MAX_SHARD_BYTES);
      spec.commandLine().getErr().println("merged " + modelOptions.adapter + " into " + m.name() + ": " + out);
    }
    return 0;
  }
}
