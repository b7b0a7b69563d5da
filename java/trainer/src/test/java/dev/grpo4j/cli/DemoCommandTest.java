package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.platform.LibTorch;
import dev.grpo4j.report.ComparisonReport;
import dev.grpo4j.report.EvalMetrics;
import dev.grpo4j.report.RunLog;
import dev.grpo4j.report.RunReport;
import dev.grpo4j.report.StepMetrics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code grpo4j demo} end to end with a short budget, and the top command's own options. */
class DemoCommandTest {
  private static final int STEPS = 12;

  @Test
  void shortDemoWritesTwoRunFoldersAndTheComparison(@TempDir Path tmp) throws IOException {
    Path dir = tmp.resolve("demo");
    CliRun run = CliRun.of("demo", "--out", dir.toString(), "--steps", Integer.toString(STEPS), "--sft-steps", "5",
        "--seed", "5", "--no-progress");
    assertEquals(0, run.exitCode(), run.err());

    for (int g = 0; g < DemoData.GROUP_SHARES.size(); g++) {
      assertTrue(Pattern.compile("(?m)^\\| g" + g + " .*\\|$").matcher(run.out()).find(),
          "a table row for group g" + g + " in\n" + run.out());
    }
    for (String row : List.of("worst group", "mean over groups", "loss imbalance")) {
      assertTrue(run.out().contains(row), row + " in\n" + run.out());
    }
    for (String column : List.of("DPO loss", "GR-DPO loss", "DPO acc", "GR-DPO acc", "GR-DPO weight")) {
      assertTrue(run.out().contains(column), column + " in\n" + run.out());
    }
    assertFalse(run.out().contains("| DPO weight"), "plain DPO has no weight column");

    // The top-level report: the printed table and the side-by-side plots.
    String report = Files.readString(dir.resolve("report.md"));
    String table = run.out().lines().filter(line -> line.startsWith("|")).reduce("", (a, b) -> a + b + "\n");
    assertTrue(report.contains(table), "report.md holds the printed table");
    for (String plot : List.of(ComparisonReport.TEST_LOSS_PLOT, ComparisonReport.TEST_ACCURACY_PLOT,
        ComparisonReport.WORST_GROUP_PLOT, "gr-dpo/group_weights.png")) {
      assertTrue(report.contains("](" + plot + ")"), plot + " in\n" + report);
      assertEquals(RunReport.PLOT_WIDTH, ImageIO.read(dir.resolve(plot).toFile()).getWidth(), plot);
    }

    // Each method is an ordinary run folder, read with the one reader.
    for (String method : List.of("dpo", "gr-dpo")) {
      Path runDir = dir.resolve(method);
      for (String file : List.of("run_config.json", "groups.json", "metrics.jsonl", "eval.jsonl", "report.md",
          "group_loss.png", "group_accuracy.png", "final/model/model.safetensors")) {
        assertTrue(Files.isRegularFile(runDir.resolve(file)), method + "/" + file);
      }
      assertEquals(method.equals("gr-dpo"), Files.isRegularFile(runDir.resolve("group_weights.png")), method);
    }
    List<StepMetrics> dpo = RunLog.readMetrics(RunLog.metricsFile(dir.resolve("dpo")));
    List<StepMetrics> robust = RunLog.readMetrics(RunLog.metricsFile(dir.resolve("gr-dpo")));
    assertEquals(STEPS, dpo.size());
    assertEquals(STEPS, robust.size());
    assertTrue(dpo.stream().noneMatch(StepMetrics::hasGroupWeights), "DPO logs no group weights");
    for (StepMetrics s : robust) {
      assertEquals(1.0, Arrays.stream(s.groupWeights()).sum(), 1e-5, "GR-DPO's weights stay on the simplex");
    }
    // The same SFT weights and the same first batch: step 1's per-group pair losses are the same for both.
    assertArrayEquals(dpo.getFirst().groupPairLoss(), robust.getFirst().groupPairLoss());
    assertArrayEquals(Files.readAllBytes(dir.resolve("dpo/reference/train.safetensors")),
        Files.readAllBytes(dir.resolve("gr-dpo/reference/train.safetensors")), "one reference for both");
    List<EvalMetrics> evals = RunLog.readEval(RunLog.evalFile(dir.resolve("gr-dpo")));
    assertEquals(EvalMetrics.Split.TEST, evals.getLast().split());
    assertEquals(List.of("g0", "g1", "g2", "g3"), evals.getLast().groups());

    CliRun again = CliRun.of("demo", "--out", dir.toString(), "--steps", "1", "--sft-steps", "0");
    assertEquals(1, again.exitCode());
    assertTrue(again.err().contains("already holds a demo"), again.err());
  }

  /**
   * A libtorch that cannot load (here: the GPU one asked for, which this class path lacks) must not take every
   * command down while picocli builds the command line: the version names the problem, a command without libtorch
   * runs, and one that needs libtorch fails with the loader's message, not a stack trace.
   */
  @Test
  void aLibtorchThatCannotLoadIsNamedNotACrash(@TempDir Path tmp) throws IOException {
    List<String> gpuAskedFor = List.of("-D" + LibTorch.EXTENSION_PROPERTY + "=-gpu");
    try (ChildJvm version = ChildJvm.grpo4j(tmp, "version", Map.of(), gpuAskedFor, "--version")) {
      assertEquals(0, version.waitFor(Duration.ofSeconds(120)), version.output());
      assertTrue(version.stdout().contains("BLAS unknown: libtorch did not load (")
          && version.stdout().contains("asks for the GPU libtorch"), version.output());
    }
    Path survey = Files.writeString(tmp.resolve("survey.jsonl"), "{\"question\": \"Q?\", \"options\": [\"Yes\", "
        + "\"No\"], \"selections\": {\"A\": [0.7, 0.3], \"B\": [0.2, 0.8]}}\n");
    try (ChildJvm convert = ChildJvm.grpo4j(tmp, "convert", Map.of(), gpuAskedFor, "convert-survey", "--input",
        survey.toString(), "--out", tmp.resolve("pairs").toString())) {
      assertEquals(0, convert.waitFor(Duration.ofSeconds(120)), convert.output());
    }
    try (ChildJvm train = ChildJvm.grpo4j(tmp, "train", Map.of(), gpuAskedFor, "demo", "--steps", "1",
        "--sft-steps", "0", "--out", tmp.resolve("demo").toString())) {
      assertTrue(train.waitFor(Duration.ofSeconds(120)) != 0, train.output());
      assertTrue(train.stderr().contains("asks for the GPU libtorch"), train.output());
      assertFalse(train.stderr().contains("\tat "), "no stack trace: " + train.output());
    }
  }

  @Test
  void versionAndHelp() {
    CliRun version = CliRun.of("--version");
    assertEquals(0, version.exitCode());
    assertTrue(version.out().startsWith("grpo4j 0."), version.out());
    assertTrue(version.out().contains("\nBLAS Intel(R) oneAPI Math Kernel Library"), version.out());

    CliRun help = CliRun.of("--help");
    assertEquals(0, help.exitCode());
    assertTrue(help.out().contains("demo"), help.out());
    assertTrue(help.out().contains("Group Robust Preference Optimization"), help.out());

    CliRun demoHelp = CliRun.of("demo", "--help");
    assertEquals(0, demoHelp.exitCode());
    for (String option : List.of("--out", "--seed", "--steps", "--sft-steps", "--threads")) {
      assertTrue(demoHelp.out().contains(option), option + " in\n" + demoHelp.out());
    }
  }

  @Test
  void usageErrorsExitWithTwo() {
    CliRun none = CliRun.of();
    assertEquals(2, none.exitCode());
    assertTrue(none.err().contains("Missing command"), none.err());

    CliRun badSteps = CliRun.of("demo", "--steps", "0");
    assertEquals(2, badSteps.exitCode());
    assertTrue(badSteps.err().contains("--steps"), badSteps.err());
  }
}
