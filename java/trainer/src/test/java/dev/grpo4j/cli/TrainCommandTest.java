package dev.grpo4j.cli;

import static dev.grpo4j.cli.TrainFixtures.assertOneLineError;
import static dev.grpo4j.cli.TrainFixtures.train;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.Weighting;
import dev.grpo4j.model.Checkpoints;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Models;
import dev.grpo4j.report.EvalMetrics;
import dev.grpo4j.report.RunLog;
import dev.grpo4j.report.StepMetrics;
import dev.grpo4j.testing.Close;
import dev.grpo4j.train.Method;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code grpo4j train} end to end on built-in tiny models and a Hugging Face folder: every method produces the run
 * folder (metrics, evaluations, checkpoints, final model, report); a resumed run is bit-identical to an
 * uninterrupted one, for full fine-tuning and for LoRA with dropout; bad data and bad run folders fail with one
 * line that names the file and what to do.
 */
class TrainCommandTest {
  @TempDir
  Path tmp;

  @ParameterizedTest
  @EnumSource(Method.class)
  void everyMethodWritesACompleteRunFolder(Method method) throws IOException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 0);
    Path out = tmp.resolve("run");
    CliRun run = train(data, out, "--method", method.cliName(), "--steps", "4", "--eval-every", "2", "--eta", "0.5",
        "--label-smoothing", method.lossType() == dev.grpo4j.LossType.DPO ? "0.1" : "0");
    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.out().contains("test split, per group (step 4)"), run.out());

    List<StepMetrics> steps = RunLog.readMetrics(RunLog.metricsFile(out));
    assertEquals(List.of(1, 2, 3, 4), steps.stream().map(StepMetrics::step).toList());
    for (StepMetrics s : steps) {
      assertTrue(Double.isFinite(s.loss()) && Double.isFinite(s.gradNorm()) && s.lr() == 1e-3, s.toString());
      if (method.weighting() == Weighting.AVERAGE) {
        assertFalse(s.hasGroupWeights(), "plain " + method.displayName() + " logs no group weights: " + s);
        continue;
      }
      assertEquals(1.0, Arrays.stream(s.groupWeights()).sum(), 1e-5, s.toString());
      // The logged objective losses are the kernel's L_g: J = sum_g w_g L_g (one micro-batch, no adjustment).
      double objective = 0;
      for (int g = 0; g < s.numberOfGroups(); g++) {
        objective += s.groupWeights()[g] * s.groupObjectiveLoss()[g];
      }
      assertEquals(s.loss(), objective, 1e-5, s.toString());
    }
    double[] weights = steps.getLast().groupWeights();
    if (method.weighting() == Weighting.ROBUST) {
      assertNotEquals(1.0 / 3, weights[0], 1e-4, "the robust weights moved: " + Arrays.toString(weights));
    }
    if (method.weighting() == Weighting.IMPORTANCE_SAMPLING) {
      // Groups are numbered in sorted name order: east (6 pairs), north (24), south (12); w_g ∝ 1/N_g.
      Close.assertClose("IS weights", weights, new double[] {4.0 / 7, 1.0 / 7, 2.0 / 7}, 1e-6, 1e-5);
    }

    List<EvalMetrics> evals = RunLog.readEval(RunLog.evalFile(out));
    assertEquals(List.of("validation 0", "validation 2", "validation 4", "test 4"),
        evals.stream().map(e -> e.split().label() + " " + e.step()).toList());
    assertEquals(List.of("east", "north", "south"), evals.getLast().groups());
    assertArrayEquals(new int[] {3, 3, 3}, evals.getLast().groupCount());
    for (String file : List.of("report.md", "group_loss.png", "group_accuracy.png", "groups.json",
        "final/model/model.safetensors", "final/model/config.json", "checkpoints/step-00000004/optimizer.pt",
        "reference/train.safetensors", "run_config.json")) {
      assertTrue(Files.isRegularFile(out.resolve(file)), file + " is missing");
    }
    String report = Files.readString(out.resolve("report.md"));
    assertTrue(report.contains(method.displayName()));
    boolean weighted = method.weighting() != Weighting.AVERAGE;
    assertEquals(weighted, Files.isRegularFile(out.resolve("group_weights.png")));
    assertEquals(weighted, report.contains("| final weight"), report);
    assertEquals(!weighted, report.contains(method.displayName() + " has no group weights"), report);
  }

  @Test
  void fullFineTuningKeepsItsReferenceSoThatEvalReproducesTheRun() throws IOException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 6);
    Path out = tmp.resolve("run");
    CliRun run = train(data, out, "--method", "gr-dpo", "--steps", "3", "--sft-steps", "2", "--sft-lr", "1e-2");
    assertEquals(0, run.exitCode(), run.err());
    Path reference = out.resolve("reference/model");
    assertTrue(run.out().contains("reference model: " + reference.toAbsolutePath().normalize()), run.out());
    Path evalOut = tmp.resolve("eval.jsonl");
    CliRun eval = CliRun.of("eval", "--model", out.resolve("final/model").toString(), "--reference",
        reference.toString(), "--data", data.test().toString(), "--out", evalOut.toString(), "--threads", "1");
    assertEquals(0, eval.exitCode(), eval.err());
    Close.assertClose("eval against the kept reference, against the run's own test evaluation",
        RunLog.readEval(evalOut).getFirst().groupLoss(), RunLog.readEval(RunLog.evalFile(out)).getLast().groupLoss(),
        1e-5, 1e-4);
  }

  @Test
  void resumedFullFineTuningIsBitIdentical() throws IOException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 1);
    String[] options = {"--method", "gr-ipo", "--steps", "8", "--sft-steps", "3", "--sft-lr", "1e-3",
        "--grad-accumulation", "2", "--batch-size", "3", "--warmup-steps", "2", "--schedule", "cosine",
        "--eval-every", "2", "--plateau-patience", "0", "--checkpoint-every", "4", "--eta", "0.3"};
    Path whole = tmp.resolve("whole");
    assertEquals(0, train(data, whole, options).exitCode());

    Path resumed = tmp.resolve("resumed");
    interruptAfterFirstCheckpoint(whole, resumed, 8);
    CliRun run = CliRun.of("train", "--resume", "--out", resumed.toString(), "--threads", "1", "--no-progress");
    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.err().contains("resuming from"), run.err());
    assertSameRun(whole, resumed);
    assertArrayEquals(Files.readAllBytes(whole.resolve("final/model/model.safetensors")),
        Files.readAllBytes(resumed.resolve("final/model/model.safetensors")), "final weights");
  }

  @Test
  void loraOnHuggingFaceFolderTrainsEvaluatesAndResumesBitIdentically() throws IOException {
    Path modelDir = tmp.resolve("hf-model");
    Checkpoints.save(Models.random(ModelConfig.tiny("tiny-qwen2", 16), 4), modelDir, ScalarType.Float,
        Checkpoints.DEFAULT_MAX_SHARD_BYTES);
    Files.writeString(modelDir.resolve("tokenizer.json"), ScoreCommandTest.TOKENIZER);
    TrainFixtures.Data data = TrainFixtures.Data.writeWords(tmp);
    String[] options = {"--model", modelDir.toString(), "--lora-rank", "2", "--lora-dropout", "0.2",
        "--lora-targets", "q_proj,v_proj,up_proj", "--sft-steps", "2", "--sft-lr", "1e-2", "--steps", "6",
        "--checkpoint-every", "3", "--eval-every", "3", "--method", "gr-dpo", "--eta", "1"};
    Path whole = tmp.resolve("lora");
    CliRun first = train(data, whole, options);
    assertEquals(0, first.exitCode(), first.err());
    for (String file : List.of("final/adapter/adapter_config.json", "final/adapter/adapter_model.safetensors",
        "sft/model/model.safetensors", "checkpoints/step-00000003/adapter/adapter_model.safetensors")) {
      assertTrue(Files.isRegularFile(whole.resolve(file)), file + " is missing");
    }
    assertFalse(Files.exists(whole.resolve("final/model")), "a LoRA run saves adapters, not the whole model");

    Path resumed = tmp.resolve("lora-resumed");
    interruptAfterFirstCheckpoint(whole, resumed, 6);
    CliRun run = CliRun.of("train", "--resume", "--out", resumed.toString(), "--threads", "1", "--no-progress");
    assertEquals(0, run.exitCode(), run.err());
    assertSameRun(whole, resumed);

    // The trained adapters on the SFT base, against that base: the table the run printed for its test split.
    Path evalOut = tmp.resolve("eval.jsonl");
    CliRun eval = CliRun.of("eval", "--model", whole.resolve("sft/model").toString(), "--tokenizer",
        modelDir.toString(), "--adapter", whole.resolve("final/adapter").toString(), "--data", data.test().toString(),
        "--out", evalOut.toString(), "--threads", "1");
    assertEquals(0, eval.exitCode(), eval.err());
    EvalMetrics mine = RunLog.readEval(evalOut).getFirst();
    EvalMetrics runs = RunLog.readEval(RunLog.evalFile(whole)).getLast();
    assertEquals(EvalMetrics.Split.TEST, runs.split());
    Close.assertClose("eval's group losses against the run's test evaluation", mine.groupLoss(), runs.groupLoss(),
        1e-5, 1e-4);
  }

  @Test
  void badDataFailsWithFileLineAndNoStackTrace() throws IOException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 2);
    List<String> lines = new ArrayList<>(Files.readAllLines(data.train()));
    lines.add(2, "{\"prompt\": \"p\", \"chosen\": \"c\", \"group\": \"north\"}");
    Path broken = Files.write(tmp.resolve("broken.jsonl"), lines);

    CliRun missingField = CliRun.of("train", "--model", "tiny-llama", "--train", broken.toString(), "--steps", "1",
        "--out", tmp.resolve("a").toString(), "--no-progress");
    assertOneLineError(missingField, "broken.jsonl:3:");
    assertTrue(missingField.err().contains("rejected"), missingField.err());

    CliRun skipping = CliRun.of("train", "--model", "tiny-llama", "--train", broken.toString(), "--steps", "1",
        "--skip-bad-lines", "--out", tmp.resolve("b").toString(), "--no-progress", "--threads", "1");
    assertEquals(0, skipping.exitCode(), skipping.err());
    assertTrue(skipping.err().contains("skipped 1 malformed"), skipping.err());

    Path strangeGroup = Files.writeString(tmp.resolve("val.jsonl"),
        "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": \"west\"}\n");
    assertOneLineError(train(data, tmp.resolve("c"), "--validation", strangeGroup.toString(), "--steps", "1"),
        "unknown group \"west\"");

    Path empty = Files.writeString(tmp.resolve("empty.jsonl"), "\n");
    assertOneLineError(CliRun.of("train", "--model", "tiny-llama", "--train", empty.toString(), "--steps", "1",
        "--out", tmp.resolve("d").toString(), "--no-progress"), "no preference records");

    assertOneLineError(CliRun.of("train", "--model", "tiny-llama", "--train", tmp.resolve("none.jsonl").toString(),
        "--steps", "1", "--out", tmp.resolve("e").toString(), "--no-progress"), "none.jsonl");
    assertFalse(Files.exists(tmp.resolve("a").resolve("run_config.json")), "a failed start leaves no run behind");
  }

  @Test
  void runFoldersAreProtectedAndResumeKeepsTheSavedSettings() throws IOException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 3);
    Path out = tmp.resolve("run");
    assertEquals(0, train(data, out, "--steps", "2").exitCode());
    assertOneLineError(train(data, out, "--steps", "2"), "already holds a run");
    assertOneLineError(CliRun.of("train", "--resume", "--out", out.toString(), "--lr", "1"), "drop [--lr]");
    assertOneLineError(CliRun.of("train", "--resume", "--out", tmp.resolve("nothing").toString()), "holds no run");
    assertOneLineError(train(data, tmp.resolve("x"), "--steps", "2", "--chi", "2"), "--chi");
    assertOneLineError(CliRun.of("train", "--model", "tiny-llama", "--train", data.train().toString(), "--steps", "2",
        "--plateau-patience", "1", "--out", tmp.resolve("y").toString()), "--validation");
    CliRun unknownMethod = train(data, tmp.resolve("z"), "--method", "rlhf");
    assertEquals(2, unknownMethod.exitCode(), "a usage error");
    assertTrue(unknownMethod.err().contains("gr-dpo"), unknownMethod.err());
  }

  /** Copies a finished run as a crash after its first checkpoint would have left it, with a half-written line. */
  static void interruptAfterFirstCheckpoint(Path whole, Path copy, int lastStep) throws IOException {
    try (Stream<Path> files = Files.walk(whole)) {
      for (Path p : files.toList()) {
        Path target = copy.resolve(whole.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target);
        }
      }
    }
    dev.grpo4j.io.AtomicDirectory.deleteRecursively(copy.resolve(String.format(Locale.ROOT,
        "checkpoints/step-%08d", lastStep)));
    dev.grpo4j.io.AtomicDirectory.deleteRecursively(copy.resolve("final"));
    Files.writeString(RunLog.metricsFile(copy), "{\"step\":99,\"epo", StandardOpenOption.APPEND);
  }

  /** Every logged number except the throughput (a timing) is the same bit for bit. */
  static void assertSameRun(Path whole, Path resumed) throws IOException {
    List<StepMetrics> a = RunLog.readMetrics(RunLog.metricsFile(whole));
    List<StepMetrics> b = RunLog.readMetrics(RunLog.metricsFile(resumed));
    assertEquals(a.size(), b.size(), "steps logged");
    for (int i = 0; i < a.size(); i++) {
      StepMetrics x = a.get(i);
      StepMetrics y = b.get(i);
      assertEquals(new StepMetrics(x.step(), x.epoch(), x.loss(), x.groupPairLoss(), x.groupObjectiveLoss(),
          x.groupWeights(), x.lr(), 0, x.gradNorm(), 0), new StepMetrics(y.step(), y.epoch(), y.loss(),
              y.groupPairLoss(),
          y.groupObjectiveLoss(), y.groupWeights(), y.lr(), 0, y.gradNorm(), 0), "step " + x.step());
    }
    assertEquals(RunLog.readEval(RunLog.evalFile(whole)), RunLog.readEval(RunLog.evalFile(resumed)));
  }

}
