package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.grpo4j.GroupNormalization;
import dev.grpo4j.train.DataSpec;
import dev.grpo4j.train.GroupUpdate;
import dev.grpo4j.train.LearningRateSchedule;
import dev.grpo4j.train.LoopSpec;
import dev.grpo4j.train.LossSpec;
import dev.grpo4j.train.Method;
import dev.grpo4j.train.ModelSpec;
import dev.grpo4j.train.OptimizerSpec;
import dev.grpo4j.train.SftSpec;
import dev.grpo4j.train.TrainConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
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
}
