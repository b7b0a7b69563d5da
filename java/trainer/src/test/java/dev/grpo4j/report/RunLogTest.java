package dev.grpo4j.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The run-log format: exact lines, NaN as null, strict reading with file:line errors, crash tolerance. */
class RunLogTest {
  private static final double NAN = Double.NaN;

  static StepMetrics step(int step) {
    return new StepMetrics(step, step / 8.0, 0.75 - step / 64.0, new double[] {0.5, step % 2 == 0 ? NAN : 1.5, 0.25},
        new double[] {0.375, step % 2 == 0 ? 0 : 2.25, 0.125}, new double[] {0.25, 0.5, 0.25}, 1e-5, 1000.0 + step,
        step == 2 ? NAN : 0.125 * step, 0.5 + step);
  }

  static EvalMetrics testEval() {
    return new EvalMetrics(40, EvalMetrics.Split.TEST, List.of("a", "b", "c"), new double[] {0.5, 9.0, 0.75},
        new double[] {0.75, 0.125, 0.5}, new double[] {0.625, 0.25, 0.5}, new double[] {1.25, -3.0, 0.5},
        new int[] {10, 0, 5});
  }

  @Test
  void stepMetricsAreWrittenAsExactlyTheDocumentedLine() {
    StepMetrics s = new StepMetrics(3, 0.5, 0.625, new double[] {0.5, NAN, 0.75}, new double[] {0.75, 0, 0.5},
        new double[] {0.25, 0.25, 0.5}, 0.001, 1500.0, NAN, 2.5);
    assertEquals("{\"step\":3,\"epoch\":0.5,\"loss\":0.625,\"group_pair_loss\":[0.5,null,0.75],"
        + "\"group_objective_loss\":[0.75,0.0,0.5],\"group_weights\":[0.25,0.25,0.5],\"lr\":0.001,"
        + "\"tokens_per_second\":1500.0,\"grad_norm\":null,\"step_seconds\":2.5}", s.toJson());
    StepMetrics dpo = new StepMetrics(3, 0.5, 0.625, new double[] {0.5}, new double[] {0.5}, null, 0.001, 1, 1, 1);
    assertTrue(dpo.toJson().contains("\"group_weights\":null"), "plain DPO has no group weights: " + dpo.toJson());
    assertFalse(dpo.hasGroupWeights());
  }

  @Test
  void logsWrittenBeforeTheLossesWereSplitStillRead() throws IOException {
    StepMetrics old = StepMetrics.fromJson("{\"step\":3,\"epoch\":0.5,\"loss\":0.625,\"group_losses\":[0.5,null],"
        + "\"group_weights\":[0.25,0.75],\"lr\":0.001,\"tokens_per_second\":1500.0,\"grad_norm\":null}");
    assertArrayEquals(new double[] {0.5, NAN}, old.groupPairLoss());
    assertTrue(Double.isNaN(old.groupObjectiveLoss()[0]) && Double.isNaN(old.groupObjectiveLoss()[1]));
    assertArrayEquals(new double[] {0.25, 0.75}, old.groupWeights());
    assertTrue(Double.isNaN(old.stepSeconds()), "a log from before step_seconds was recorded");
  }

  @Test
  void evalMetricsAreWrittenWithAggregatesOverGroupsWithPairs() {
    // Group b has no pairs: its (stale) loss 9.0 and accuracy 0.125 must not enter the aggregates.
    assertEquals("{\"step\":40,\"split\":\"test\",\"groups\":[\"a\",\"b\",\"c\"],\"group_loss\":[0.5,9.0,0.75],"
        + "\"group_reward_accuracy\":[0.75,0.125,0.5],\"group_logprob_accuracy\":[0.625,0.25,0.5],"
        + "\"group_margin\":[1.25,-3.0,0.5],\"group_count\":[10,0,5],\"worst_group_loss\":0.75,"
        + "\"average_loss\":0.625,\"loss_imbalance\":0.25,\"worst_group_reward_accuracy\":0.5,"
        + "\"average_reward_accuracy\":0.625}", testEval().toJson());
  }

  @Test
  void aggregatesOfAnEvaluationWithoutPairsAreNullInTheFile() throws IOException {
    EvalMetrics empty = new EvalMetrics(0, EvalMetrics.Split.VALIDATION, List.of("a", "b"),
        new double[] {NAN, NAN}, new double[] {NAN, NAN}, new double[] {NAN, NAN}, new double[] {NAN, NAN},
        new int[] {0, 0});
    assertTrue(Double.isNaN(empty.worstGroupLoss()));
    assertTrue(Double.isNaN(empty.averageRewardAccuracy()));
    assertTrue(empty.toJson().endsWith("\"group_count\":[0,0],\"worst_group_loss\":null,\"average_loss\":null,"
        + "\"loss_imbalance\":null,\"worst_group_reward_accuracy\":null,\"average_reward_accuracy\":null}"),
        empty.toJson());
    assertEquals(empty, EvalMetrics.fromJson(empty.toJson()));
  }

  @Test
  void singleGroupWithPairsHasZeroImbalance() {
    EvalMetrics e = new EvalMetrics(1, EvalMetrics.Split.TEST, List.of("a", "b"), new double[] {NAN, 0.25},
        new double[] {NAN, 1.0}, new double[] {NAN, 1.0}, new double[] {NAN, 2.0}, new int[] {0, 3});
    assertEquals(0.25, e.worstGroupLoss());
    assertEquals(0.25, e.averageLoss());
    assertEquals(0.0, e.lossImbalance());
    assertEquals(1.0, e.worstGroupRewardAccuracy());
  }

  @Test
  void roundTripThroughTheFilesKeepsEveryValueAndNaN(@TempDir Path dir) throws IOException {
    List<StepMetrics> steps = new ArrayList<>();
    try (MetricsWriter<StepMetrics> out = MetricsWriter.steps(RunLog.metricsFile(dir))) {
      for (int i = 1; i <= 5; i++) {
        steps.add(step(i));
        out.append(step(i));
      }
    }
    EvalMetrics validation = new EvalMetrics(2, EvalMetrics.Split.VALIDATION, List.of("a", "b", "c"),
        new double[] {0.1 / 3, NAN, 1e-300}, new double[] {1.0 / 3, NAN, 0.0}, new double[] {0.5, NAN, 1.0},
        new double[] {-0.7071067811865476, NAN, 12345.678}, new int[] {3, 0, 1});
    try (MetricsWriter<EvalMetrics> out = MetricsWriter.evaluations(RunLog.evalFile(dir))) {
      out.append(validation);
      out.append(testEval());
    }

    List<String> lines = Files.readAllLines(RunLog.metricsFile(dir));
    assertEquals(5, lines.size());
    assertTrue(lines.get(1).contains("\"group_pair_loss\":[0.5,null,0.25]"), lines.get(1));
    assertTrue(lines.get(1).contains("\"grad_norm\":null"), lines.get(1));

    List<StepMetrics> read = RunLog.readMetrics(RunLog.metricsFile(dir));
    assertEquals(steps, read);
    assertTrue(Double.isNaN(read.get(1).groupPairLoss()[1]), "null reads back as NaN");
    assertTrue(Double.isNaN(read.get(1).gradNorm()));
    assertEquals(List.of(validation, testEval()), RunLog.readEval(RunLog.evalFile(dir)));
    assertEquals(0.1 / 3, RunLog.readEval(RunLog.evalFile(dir)).getFirst().groupLoss()[0], 0.0,
        "doubles keep every bit");
  }

  @Test
  void appendingContinuesAnExistingLog(@TempDir Path dir) throws IOException {
    Path file = RunLog.metricsFile(dir);
    try (MetricsWriter<StepMetrics> out = MetricsWriter.steps(file)) {
      out.append(step(1));
    }
    try (MetricsWriter<StepMetrics> out = MetricsWriter.steps(file)) {
      out.append(step(2));
      assertEquals(2, Files.readAllLines(file).size(), "each append is on disk before close");
    }
    assertEquals(List.of(step(1), step(2)), RunLog.readMetrics(file));
  }

  @Test
  void malformedLinesAreReportedWithFileAndLine(@TempDir Path dir) throws IOException {
    String good = step(1).toJson();
    String valid = step(2).toJson();
    List<String[]> cases = List.of(
        new String[] {"{\"step\":2,\"epoch\":0.25 \"loss\":1}", "Unexpected character"},
        new String[] {valid.replace(",\"grad_norm\":null", ""), "field \"grad_norm\" is missing"},
        new String[] {valid.replace("\"loss\":0.71875", "\"loss\":\"0.71875\""),
            "expected a number or null, got a string (field \"loss\")"},
        new String[] {valid.replace("\"step\":2", "\"step\":2.5"), "step"},
        new String[] {valid.replace("\"step\":2", "\"step\":null"), "field \"step\" is null"},
        new String[] {valid.replace("[0.5,null,0.25]", "null"), "group_pair_loss is null"},
        new String[] {valid.replace("[0.25,0.5,0.25]", "[0.25,0.5]"), "group_weights"},
        new String[] {valid.replace("[0.5,null,0.25]", "[0.5,\"x\",0.25]"), "group_pair_loss"},
        new String[] {valid + " " + valid, "trailing"},
        new String[] {"[1,2,3]", "StepMetrics"});
    for (String[] c : cases) {
      Path file = dir.resolve("metrics.jsonl");
      Files.writeString(file, good + "\n" + c[0] + "\n" + good + "\n");
      RunLogFormatException e = assertThrows(RunLogFormatException.class, () -> RunLog.readMetrics(file), c[0]);
      assertEquals(2, e.line(), e.getMessage());
      assertEquals(file, e.file());
      assertTrue(e.getMessage().startsWith(file + ":2: "), e.getMessage());
      assertTrue(e.getMessage().toLowerCase(Locale.ROOT).contains(c[1].toLowerCase(Locale.ROOT)),
          "'" + c[1] + "' in: " + e.getMessage());
    }
  }

  @Test
  void malformedEvalLineNamesTheProblem(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("eval.jsonl");
    String line = testEval().toJson();
    Files.writeString(file, line + "\n\n" + line.replace("\"split\":\"test\"", "\"split\":\"train\"") + "\n");
    RunLogFormatException e = assertThrows(RunLogFormatException.class, () -> RunLog.readEval(file));
    assertEquals(3, e.line(), "blank lines count: " + e.getMessage());
    assertTrue(e.getMessage().contains("train") && e.getMessage().contains("split"), e.getMessage());

    Files.writeString(file, line.replace("\"group_count\":[10,0,5]", "\"group_count\":[10,-1,5]") + "\n");
    e = assertThrows(RunLogFormatException.class, () -> RunLog.readEval(file));
    assertTrue(e.getMessage().startsWith(file + ":1: invalid record: group_count[1] = -1"), e.getMessage());
  }

  @Test
  void truncatedLastLineIsSkippedWithAWarning(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("metrics.jsonl");
    String third = step(3).toJson();
    Files.writeString(file, step(1).toJson() + "\n" + step(2).toJson() + "\n" + third.substring(0, 40));
    List<String> warnings = new ArrayList<>();
    assertEquals(List.of(step(1), step(2)), RunLog.readMetrics(file, warnings::add));
    assertEquals(1, warnings.size());
    assertTrue(warnings.getFirst().startsWith(file + ":3: skipped the incomplete last line"), warnings.getFirst());
  }

  @Test
  void truncatedLineInTheMiddleIsAnError(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("metrics.jsonl");
    Files.writeString(file, step(1).toJson() + "\n" + step(2).toJson().substring(0, 40) + "\n" + step(3).toJson()
        + "\n");
    RunLogFormatException e = assertThrows(RunLogFormatException.class, () -> RunLog.readMetrics(file, w -> { }));
    assertEquals(2, e.line());
  }

  @Test
  void lastLineWithoutLineEndIsReadWhenComplete(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("metrics.jsonl");
    Files.writeString(file, step(1).toJson() + "\r\n\r\n" + step(2).toJson());
    List<String> warnings = new ArrayList<>();
    assertEquals(List.of(step(1), step(2)), RunLog.readMetrics(file, warnings::add));
    assertEquals(List.of(), warnings);
  }

  @Test
  void writerRemovesACrashedPartialLineBeforeAppending(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("metrics.jsonl");
    Files.writeString(file, step(1).toJson() + "\n" + step(2).toJson().substring(0, 50));
    try (MetricsWriter<StepMetrics> out = MetricsWriter.steps(file)) {
      out.append(step(2));
    }
    List<String> warnings = new ArrayList<>();
    assertEquals(List.of(step(1), step(2)), RunLog.readMetrics(file, warnings::add));
    assertEquals(List.of(), warnings);

    Files.writeString(file, step(1).toJson());
    try (MetricsWriter<StepMetrics> out = MetricsWriter.steps(file)) {
      out.append(step(2));
    }
    assertEquals(List.of(step(1), step(2)), RunLog.readMetrics(file), "a complete last line is kept");

    Files.writeString(file, "{\"step\":1,");
    try (MetricsWriter<StepMetrics> out = MetricsWriter.steps(file)) {
      out.append(step(2));
    }
    assertEquals(step(2).toJson() + "\n", Files.readString(file), "a lone partial line is removed");
  }

  @Test
  void unknownFieldsAreIgnoredAndStoredAggregatesRecomputed(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("eval.jsonl");
    String line = testEval().toJson().replace("\"worst_group_loss\":0.75", "\"worst_group_loss\":123.0")
        .replace("{\"step\"", "{\"model\":\"tiny\",\"step\"");
    Files.writeString(file, line + "\n");
    EvalMetrics read = RunLog.readEval(file).getFirst();
    assertEquals(testEval(), read);
    assertEquals(0.75, read.worstGroupLoss());
  }

  @Test
  void missingFileIsNoSuchFileAndEmptyFileIsEmpty(@TempDir Path dir) throws IOException {
    assertThrows(NoSuchFileException.class, () -> RunLog.readMetrics(dir.resolve("metrics.jsonl")));
    Files.writeString(dir.resolve("eval.jsonl"), "");
    assertEquals(List.of(), RunLog.readEval(dir.resolve("eval.jsonl")));
    Files.writeString(dir.resolve("eval.jsonl"), "\n  \n");
    assertEquals(List.of(), RunLog.readEval(dir.resolve("eval.jsonl")));
  }

  @Test
  void recordsCheckTheirShapeAndCopyTheirArrays() {
    double[] losses = {0.5, 0.5};
    StepMetrics s = new StepMetrics(1, 0, 0.5, losses, losses, new double[] {0.5, 0.5}, 0, 0, 0, 0);
    losses[0] = 9;
    assertEquals(0.5, s.groupPairLoss()[0], "the record keeps its own copy");
    s.groupPairLoss()[1] = 9;
    assertEquals(0.5, s.groupPairLoss()[1], "callers get a copy");
    assertThrows(IllegalArgumentException.class,
        () -> new StepMetrics(1, 0, 0.5, new double[] {0.5}, null, new double[] {0.5, 0.5}, 0, 0, 0, 0));
    assertThrows(IllegalArgumentException.class,
        () -> new StepMetrics(1, 0, 0.5, new double[] {0.5}, new double[] {0.5, 0.5}, null, 0, 0, 0, 0));
    assertThrows(IllegalArgumentException.class,
        () -> new StepMetrics(-1, 0, 0.5, new double[] {0.5}, null, new double[] {1}, 0, 0, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> new EvalMetrics(1, EvalMetrics.Split.TEST, List.of("a"),
        new double[] {0.5}, new double[] {0.5}, new double[] {0.5, 0.5}, new double[] {0.5}, new int[] {1}));
    assertNotEquals(step(1), step(2));
    assertEquals(step(2).hashCode(), step(2).hashCode());
  }
}
