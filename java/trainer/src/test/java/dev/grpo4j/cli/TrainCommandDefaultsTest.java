package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.grpo4j.FDivergence;
import dev.grpo4j.GroupNormalization;
import dev.grpo4j.Weighting;
import dev.grpo4j.train.DataSpec;
import dev.grpo4j.train.GroupUpdate;
import dev.grpo4j.train.LearningRateSchedule;
import dev.grpo4j.train.LoopSpec;
import dev.grpo4j.train.LossParameters;
import dev.grpo4j.train.LossSpec;
import dev.grpo4j.train.LossTerms;
import dev.grpo4j.train.Method;
import dev.grpo4j.train.ModelSpec;
import dev.grpo4j.train.OptimizerSpec;
import dev.grpo4j.train.SftSpec;
import dev.grpo4j.train.TrainConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The {@code train} command's option defaults and the specs' factories are one set of defaults: presets built from
 * the factories (the demo, embedders) change only what they name.
 */
class TrainCommandDefaultsTest {
  /** The {@code train} command as {@link Main} parses it. */
  private static TrainCommand parse(String... arguments) {
    CommandLine main = Main.commandLine();
    String[] line = new String[arguments.length + 1];
    line[0] = "train";
    System.arraycopy(arguments, 0, line, 1, arguments.length);
    return main.parseArgs(line).subcommand().commandSpec().commandLine().getCommand();
  }

  @Test
  void aCommandLineWithOnlyTheRequiredOptionsGivesTheSpecsDefaults() throws IOException {
    TrainCommand command = parse("--model", "tiny-llama", "--train", "pairs.jsonl", "--steps", "3");
    TrainConfig config = command.config();

    assertEquals(ModelSpec.of("tiny-llama"), config.model());
    DataSpec data = config.data();
    assertEquals(DataSpec.of(Path.of("pairs.jsonl").toAbsolutePath().toString(), null, null, data.maxPromptTokens(),
        data.maxLength()), data);
    assertEquals(LossSpec.of(Method.GR_DPO), config.loss());
    assertEquals(SftSpec.NONE, config.sft());
    assertEquals(OptimizerSpec.adamW(5e-6), config.optimizer());
    assertEquals(LoopSpec.of(3, 8, 0), config.loop());
  }

  @Test
  void everyOptionReachesItsSpec() throws IOException {
    TrainCommand command = parse("--model", "tiny-llama", "--train", "pairs.jsonl", "--steps", "40",
        "--method", "gr-ipo", "--beta", "0.2", "--eta", "0.5", "--chi", "0.5", "--adjustment", "2",
        "--group-normalization", "batch_mean", "--ipo-length-normalization", "--group-update", "per-step",
        "--sft-steps", "7", "--sft-lr", "1e-4", "--lr", "1e-3", "--weight-decay", "0.1", "--warmup-steps", "4",
        "--schedule", "cosine", "--plateau-patience", "2", "--plateau-factor", "0.25", "--min-lr", "1e-6",
        "--validation", "v.jsonl", "--max-grad-norm", "0", "--batch-size", "6", "--grad-accumulation", "3",
        "--eval-every", "5", "--eval-batch-size", "12", "--checkpoint-every", "10", "--keep-checkpoints", "4",
        "--seed", "-9", "--decay-norms-and-biases", "--lora-rank", "4", "--lora-dropout", "0.1", "--lora-targets",
            "q_proj");

    TrainConfig config = command.config();
    assertEquals(new ModelSpec.LoraSettings(4, 8, 0.1, List.of("q_proj")), config.model().lora());
    assertEquals(Path.of("v.jsonl").toAbsolutePath().toString(), config.data().validation());
    assertEquals(new LossSpec(Method.GR_IPO, 0.2, 0.5, 0.5, 2, GroupNormalization.BATCH_MEAN, 0, true,
        GroupUpdate.PER_STEP), config.loss());
    assertEquals(new SftSpec(7, 1e-4), config.sft());
    assertEquals(new OptimizerSpec(1e-3, 0.1, 4, LearningRateSchedule.Decay.COSINE, 2, 0.25, 1e-6,
        0, false), config.optimizer());
    assertEquals(new LoopSpec(40, 6, 3, 5, 12, 10, 4, -9, 1), config.loop());
  }

  /** The losses by name and their options reach the spec, and survive the run file. */
  @Test
  void lossesByNameReachTheSpecAndTheRunFile(@TempDir Path folder) throws IOException {
    TrainCommand command = parse("--model", "tiny-llama", "--train", "pairs.jsonl", "--steps", "3",
        "--loss", "discopop,sft", "--loss-weights", "1,0.2", "--weighting", "importance", "--f-divergence",
        "alpha_divergence", "--alpha-divergence", "0.7", "--discopop-tau", "0.1", "--simpo-gamma", "1.5");
    TrainConfig config = command.config();
    assertEquals(new LossSpec(null, 0.1, 0.01, 1, 0, GroupNormalization.DATASET_FREQUENCY, 0, false,
        GroupUpdate.PER_MICRO_BATCH, new LossTerms(List.of("discopop", "sft"), List.of(1.0, 0.2),
        Weighting.IMPORTANCE_SAMPLING), new LossParameters(FDivergence.ALPHA_DIVERGENCE, 0.7, 0.1, 1.5)),
        config.loss());
    assertEquals("IS-discopop+0.2*sft", config.loss().label());
    config.write(folder);
    assertEquals(config, TrainConfig.read(folder));
    // Without them, the run file has none of their keys: a run folder written before them reads as before.
    TrainConfig plain = parse("--model", "tiny-llama", "--train", "pairs.jsonl", "--steps", "3").config();
    plain.write(folder);
    String file = java.nio.file.Files.readString(folder.resolve(TrainConfig.FILE));
    assertEquals(false, file.contains("losses") || file.contains("lossParameters"), file);
  }
}
