package dev.grpo4j.cli;

import dev.grpo4j.model.Checkpoints;
import dev.grpo4j.model.LoraAdapters;
import dev.grpo4j.text.ByteTextTokenizer;
import dev.grpo4j.train.ModelSource;
import dev.grpo4j.train.RunCheckpoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.bytedeco.pytorch.global.torch.ScalarType;
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
            + "without PEFT, with the base model's tokenizer and chat template files.",
        ""})
public final class MergeAdapterCommand implements Callable<Integer>, UsesLibTorch {
  @Spec
  private CommandSpec spec;

  @Mixin
  private ModelOptions modelOptions;

  @Option(names = "--out", required = true, paramLabel = "DIR",
      description = "Output folder; created. An existing non-empty folder is refused unless --overwrite.")
  private Path out;

  @Option(names = "--overwrite",
      description = "Replace --out, atomically, if it holds a model folder (config.json, safetensors, tokenizer "
          + "files); anything else in it is refused rather than deleted.")
  private boolean overwrite;

  @Option(names = "--save-dtype", defaultValue = "bfloat16", paramLabel = "TYPE",
      description = "dtype of the saved weights: float32, bfloat16 or float16 (default: ${DEFAULT-VALUE}).")
  private String saveDtype;

  @Override
  public Integer call() throws IOException {
    if (modelOptions.adapter == null) {
      throw new ParameterException(spec.commandLine(), "Missing required option: '--adapter=DIR'");
    }
    OutputFolder.requireApart(out, "--model", Path.of(modelOptions.model));
    OutputFolder.requireApart(out, "--adapter", modelOptions.adapter);
    OutputFolder.requireReplaceable(out, overwrite, Checkpoints::isModelFolderEntry, "merge-adapter",
        "an earlier merged model");
    try (ModelOptions.Loaded m = modelOptions.load(0, false, spec.commandLine().getErr())) {
      LoraAdapters.merge(m.model());
      // The tokenizer and chat template go along: the merged folder works as --model on its own.
      ScalarType dtype = Checkpoints.dtypeOf(saveDtype);
      Path tokenizerFolder = Path.of(modelOptions.tokenizer != null ? modelOptions.tokenizer : modelOptions.model);
      if (readsBytes()) {
        RunCheckpoints.saveWholeModel(m.model(), dtype, null, out);
      } else if (Files.isRegularFile(tokenizerFolder.resolve("tokenizer.json"))) {
        RunCheckpoints.saveWholeModel(m.model(), dtype, tokenizerFolder, out);
      } else {
        Checkpoints.save(m.model(), out, dtype, Checkpoints.DEFAULT_MAX_SHARD_BYTES);
      }
      spec.commandLine().getErr().println("merged " + modelOptions.adapter + " into " + m.name() + ": " + out);
    }
    return 0;
  }

  /** Whether the merged model reads bytes, like its base: then the output says so, as the base folder did. */
  private boolean readsBytes() {
    String tokenizer = modelOptions.tokenizer;
    if (tokenizer != null) {
      return tokenizer.equals(ModelSource.BYTES);
    }
    return ModelSource.BUILT_IN.contains(modelOptions.model) || ByteTextTokenizer.isMarked(Path.of(modelOptions.model))
        && !Files.isRegularFile(Path.of(modelOptions.model, "tokenizer.json"));
  }
}
