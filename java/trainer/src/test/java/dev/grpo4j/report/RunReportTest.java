package dev.grpo4j.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link RunReport} on hand-made run folders: plots, exact table rows, missing data, determinism. */
class RunReportTest {
  private static final double NAN = Double.NaN;
  private static final int STEPS = 40;
  private static final List<String> GROUPS = List.of("en", "de", "fr");
  private static final List<String> PLOTS =
      List.of(RunReport.GROUP_LOSS_PLOT, RunReport.GROUP_WEIGHTS_PLOT, RunReport.GROUP_ACCURACY_PLOT);
  private static final int BLUE = 0x1F77B4;
  private static final int ORANGE = 0xFF7F0E;

  @BeforeAll
  static void headless() {
    System.setProperty("java.awt.headless", "true");
  }

  static ReportSettings settings() {
    Map<String, String> hyper = new LinkedHashMap<>();
    hyper.put("beta", "0.1");
    hyper.put("eta", "0.01");
    hyper.put("batch", "32 | 64");
    return new ReportSettings("Tiny GR-DPO run", "GR-DPO", hyper, GROUPS);
  }

  /** Step s: loss falling linearly per group, group de absent from every fourth batch, weights drifting to fr. */
  static StepMetrics step(int s) {
    double[] losses = {0.7 - 0.005 * s, s % 4 == 0 ? NAN : 0.8 - 0.004 * s, 1.0 - 0.002 * s};
    double[] weights = s == STEPS ? new double[] {0.25, 0.375, 0.375}
        : new double[] {1.0 / 3 - 0.001 * s, 1.0 / 3, 1.0 / 3 + 0.001 * s};
    return new StepMetrics(s, s / 20.0, 0.75 - 0.005 * s, losses, losses, weights, 1e-5, 1000.0 + s, 0.5, 2.0);
  }

  static EvalMetrics validationAt20() {
    return new EvalMetrics(20, EvalMetrics.Split.VALIDATION, GROUPS, new double[] {0.6, NAN, 1.2},
        new double[] {0.7, NAN, 0.4}, new double[] {0.65, NAN, 0.35}, new double[] {0.5, NAN, -0.25},
        new int[] {50, 0, 10});
  }

  static EvalMetrics validationAt40() {
    return new EvalMetrics(40, EvalMetrics.Split.VALIDATION, GROUPS, new double[] {0.45, 0.6, 0.95},
        new double[] {0.8, 0.7, 0.5}, new double[] {0.75, 0.65, 0.45}, new double[] {1.0, 0.5, 0.125},
        new int[] {50, 20, 10});
  }

  static EvalMetrics testAt40() {
    return new EvalMetrics(40, EvalMetrics.Split.TEST, GROUPS, new double[] {0.4, 0.55, 0.9},
        new double[] {0.85, 0.75, 0.5}, new double[] {0.8, 0.7, 0.375}, new double[] {1.5, 0.875, 0.0625},
        new int[] {120, 40, 8});
  }

  static void writeRun(Path dir, List<EvalMetrics> evals) throws IOException {
    try (MetricsWriter<StepMetrics> out = MetricsWriter.steps(RunLog.metricsFile(dir))) {
      for (int s = 1; s <= STEPS; s++) {
        out.append(step(s));
      }
    }
    try (MetricsWriter<EvalMetrics> out = MetricsWriter.evaluations(RunLog.evalFile(dir))) {
      for (EvalMetrics e : evals) {
        out.append(e);
      }
    }
  }

  /** The report's table rows with the column padding collapsed, so expectations need not know the widths. */
  static List<String> tableRows(String markdown) {
    return markdown.lines().filter(l -> l.startsWith("|")).map(l -> l.replaceAll(" +", " ")).toList();
  }

  static void assertRow(String markdown, String row) {
    assertTrue(tableRows(markdown).contains(row), "row\n" + row + "\nin\n" + markdown);
  }

  @Test
  void fullRunGivesPlotsOfTheRightSizeAndExactTables(@TempDir Path dir) throws IOException {
    writeRun(dir, List.of(validationAt20(), validationAt40(), testAt40()));
    Path report = RunReport.write(dir, settings());
    assertEquals(dir.resolve("report.md"), report);
    String md = Files.readString(report);

    for (String plot : PLOTS) {
      byte[] bytes = Files.readAllBytes(dir.resolve(plot));
      assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'},
          Arrays.copyOf(bytes, 8), plot + " starts with the PNG signature");
      BufferedImage image = ImageIO.read(dir.resolve(plot).toFile());
      assertNotNull(image, plot + " decodes");
      assertEquals(RunReport.PLOT_WIDTH, image.getWidth(), plot);
      assertEquals(RunReport.PLOT_HEIGHT, image.getHeight(), plot);
      assertTrue(pixels(image, BLUE) > 100, plot + " draws the first group (or the bars) in blue");
      assertTrue(md.contains("](" + plot + ")"), plot + " linked by a relative path");
    }
    BufferedImage loss = ImageIO.read(dir.resolve(RunReport.GROUP_LOSS_PLOT).toFile());
    assertTrue(pixels(loss, ORANGE) > 100, "the second group has its own colour");
    try (var leftovers = Files.list(dir)) {
      assertEquals(List.of(), leftovers.filter(p -> p.getFileName().toString().startsWith(".")).toList(),
          "no temporary files left");
    }

    assertTrue(md.startsWith("# Tiny GR-DPO run\n\n"), md);
    assertRow(md, "| method | GR-DPO |");
    assertRow(md, "| groups | en, de, fr |");
    assertRow(md, "| beta | 0.1 |");
    assertRow(md, "| batch | 32 \\| 64 |");
    assertTrue(md.indexOf("| beta ") < md.indexOf("| eta ") && md.indexOf("| eta ") < md.indexOf("| batch "),
        "hyper-parameters in the given order");

    assertTrue(md.contains("- steps logged: 40 (steps 1 to 40)\n"), md);
    assertTrue(md.contains("- final epoch: 2.00\n"), md);
    assertTrue(md.contains("- final loss: 0.5500\n"), md);
    assertTrue(md.contains("- final learning rate: 1.000e-05\n"), md);
    assertTrue(md.contains("- mean throughput: 1020.5 tokens/s\n"), md);

    assertTrue(md.contains("## Final test results (step 40)\n"), md);
    assertRow(md, "| group | pairs | loss | reward acc | log-prob acc | margin | final weight |");
    assertRow(md, "| en | 120 | 0.4000 | 0.8500 | 0.8000 | 1.5000 | 0.2500 |");
    assertRow(md, "| de | 40 | 0.5500 | 0.7500 | 0.7000 | 0.8750 | 0.3750 |");
    assertRow(md, "| fr | 8 | 0.9000 | 0.5000 | 0.3750 | 0.0625 | 0.3750 |");
    assertRow(md, "| **worst group** | | 0.9000 | 0.5000 | | | |");
    assertRow(md, "| **average** | | 0.6167 | 0.7000 | | | |");
    assertRow(md, "| **loss imbalance** | | 0.5000 | | | | |");

    // At step 20 group de has no validation pairs: it is left out of every aggregate.
    assertRow(md, "| step | worst-group loss | average loss | loss imbalance | worst-group reward acc "
        + "| average reward acc |");
    assertRow(md, "| 20 | 1.2000 | 0.9000 | 0.6000 | 0.4000 | 0.5500 |");
    assertRow(md, "| 40 | 0.9500 | 0.6667 | 0.5000 | 0.5000 | 0.6667 |");
    assertFalse(md.contains("## Notes"), md);
    assertFalse(md.contains("Groups without pairs"), md);
    assertFalse(md.contains("Generated"), "no time stamp unless given");
  }

  @Test
  void groupWithoutTestPairsIsShownAsNotAvailableAndLeftOutOfTheAggregates(@TempDir Path dir) throws IOException {
    // The count-0 group carries a stale loss of 9.0: counted, it would be the worst group.
    EvalMetrics test = new EvalMetrics(40, EvalMetrics.Split.TEST, GROUPS, new double[] {0.5, 9.0, 0.75},
        new double[] {0.75, 0.125, 0.5}, new double[] {0.625, 0.25, 0.5}, new double[] {1.25, -3.0, 0.5},
        new int[] {10, 0, 5});
    writeRun(dir, List.of(test));
    String md = Files.readString(RunReport.write(dir, settings()));
    assertRow(md, "| de | 0 | n/a | n/a | n/a | n/a | 0.3750 |");
    assertRow(md, "| **worst group** | | 0.7500 | 0.5000 | | | |");
    assertRow(md, "| **average** | | 0.6250 | 0.6250 | | | |");
    assertRow(md, "| **loss imbalance** | | 0.2500 | | | | |");
    assertTrue(md.contains("_Groups without pairs in that evaluation, not in the bar chart: de._"), md);
    assertTrue(md.contains("_No validation evaluation in eval.jsonl._"), md);
  }

  @Test
  void withoutEvalFileTheReportSaysSoAndDrawsTheTrainingPlots(@TempDir Path dir) throws IOException {
    writeRun(dir, List.of(validationAt40(), testAt40()));
    RunReport.write(dir, settings());
    assertTrue(Files.exists(dir.resolve(RunReport.GROUP_ACCURACY_PLOT)));

    Files.delete(RunLog.evalFile(dir));
    String md = Files.readString(RunReport.write(dir, settings()));
    assertTrue(md.contains("_No evaluation results: eval.jsonl not found._"), md);
    assertTrue(md.contains("_group_accuracy.png not drawn: no evaluation._"), md);
    assertFalse(Files.exists(dir.resolve(RunReport.GROUP_ACCURACY_PLOT)), "the stale plot is removed");
    assertTrue(Files.exists(dir.resolve(RunReport.GROUP_LOSS_PLOT)));
    assertTrue(Files.exists(dir.resolve(RunReport.GROUP_WEIGHTS_PLOT)));
    assertTrue(md.contains("- steps logged: 40"), md);
    assertRow(md, "| groups | en, de, fr |");
  }

  @Test
  void emptyRunFolderGivesAReportOfNotes(@TempDir Path dir) throws IOException {
    Files.writeString(RunLog.metricsFile(dir), "");
    String md = Files.readString(RunReport.write(dir, new ReportSettings("Nothing yet", "DPO", Map.of(),
        List.of())));
    assertTrue(md.contains("_No training metrics: metrics.jsonl is empty._"), md);
    assertTrue(md.contains("_No evaluation results: eval.jsonl not found._"), md);
    assertTrue(md.contains("_group_loss.png not drawn: no training metrics and no validation evaluation._"), md);
    assertRow(md, "| groups | n/a |");
    for (String plot : PLOTS) {
      assertFalse(Files.exists(dir.resolve(plot)), plot);
    }
  }

  @Test
  void validationStandsInForAMissingTestEvaluation(@TempDir Path dir) throws IOException {
    writeRun(dir, List.of(validationAt20(), validationAt40()));
    String md = Files.readString(RunReport.write(dir, settings()));
    assertTrue(md.contains("## Final validation results (step 40)\n\n_No test evaluation in eval.jsonl: the last "
        + "validation evaluation is shown._"), md);
    assertRow(md, "| fr | 10 | 0.9500 | 0.5000 | 0.4500 | 0.1250 | 0.3750 |");
    assertTrue(Files.exists(dir.resolve(RunReport.GROUP_ACCURACY_PLOT)));
    assertEquals("GR-DPO: per-group reward accuracy, validation split at step 40 (no test evaluation)",
        ReportPlots.groupAccuracy("GR-DPO", validationAt40(), GROUPS, true).getTitle());
  }

  @Test
  void evaluationsAloneStillGiveTheValidationLossPlot(@TempDir Path dir) throws IOException {
    try (MetricsWriter<EvalMetrics> out = MetricsWriter.evaluations(RunLog.evalFile(dir))) {
      out.append(validationAt20());
      out.append(validationAt40());
    }
    String md = Files.readString(RunReport.write(dir, new ReportSettings("Eval only", "DPO", Map.of(),
        List.of())));
    assertRow(md, "| groups | en, de, fr |");
    assertTrue(md.contains("![Per-group loss](group_loss.png)"), md);
    assertEquals(RunReport.PLOT_WIDTH, ImageIO.read(dir.resolve(RunReport.GROUP_LOSS_PLOT).toFile()).getWidth());
    assertEquals("DPO: per-group validation loss",
        ReportPlots.groupLoss("DPO", List.of(), List.of(validationAt20(), validationAt40()), GROUPS).getTitle());
    assertTrue(md.contains("_group_weights.png not drawn: no training metrics._"), md);
    assertRow(md, "| fr | 10 | 0.9500 | 0.5000 | 0.4500 | 0.1250 |");
  }

  @Test
  void sameInputsGiveIdenticalFilesWhereverTheFolderIs(@TempDir Path tmp) throws IOException {
    Path a = Files.createDirectory(tmp.resolve("a"));
    Path b = Files.createDirectory(tmp.resolve("elsewhere-b"));
    writeRun(a, List.of(validationAt20(), validationAt40(), testAt40()));
    writeRun(b, List.of(validationAt20(), validationAt40(), testAt40()));
    // A truncated last line puts a note in the report; the note must not name the folder.
    Files.writeString(RunLog.evalFile(a), "{\"step\":4", java.nio.file.StandardOpenOption.APPEND);
    Files.writeString(RunLog.evalFile(b), "{\"step\":4", java.nio.file.StandardOpenOption.APPEND);

    RunReport.write(a, settings());
    byte[] first = Files.readAllBytes(a.resolve(RunReport.REPORT_FILE));
    List<byte[]> firstPlots = new ArrayList<>();
    for (String plot : PLOTS) {
      firstPlots.add(Files.readAllBytes(a.resolve(plot)));
    }
    RunReport.write(a, settings());
    RunReport.write(b, settings());
    assertArrayEquals(first, Files.readAllBytes(a.resolve(RunReport.REPORT_FILE)));
    assertArrayEquals(first, Files.readAllBytes(b.resolve(RunReport.REPORT_FILE)));
    for (int i = 0; i < PLOTS.size(); i++) {
      assertArrayEquals(firstPlots.get(i), Files.readAllBytes(a.resolve(PLOTS.get(i))), PLOTS.get(i));
      assertArrayEquals(firstPlots.get(i), Files.readAllBytes(b.resolve(PLOTS.get(i))), PLOTS.get(i));
    }
    String md = new String(first, java.nio.charset.StandardCharsets.UTF_8);
    assertTrue(md.contains("## Notes\n\n- eval.jsonl:4: skipped the incomplete last line"), md);
    assertFalse(md.contains(tmp.toString()), "no absolute paths");
  }

  @Test
  void generatedLineAppearsOnlyWhenGiven(@TempDir Path dir) throws IOException {
    writeRun(dir, List.of(testAt40()));
    ReportSettings stamped = new ReportSettings("Run", "GR-DPO", Map.of(), GROUPS, "2025-01-02T03:04:05Z");
    String md = Files.readString(RunReport.write(dir, stamped));
    assertTrue(md.startsWith("# Run\n\nGenerated: 2025-01-02T03:04:05Z\n\n"), md);
  }

  @Test
  void disagreeingGroupCountsAreAnError(@TempDir Path dir) throws IOException {
    writeRun(dir, List.of(testAt40()));
    ReportSettings two = new ReportSettings("Run", "GR-DPO", Map.of(), List.of("a", "b"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RunReport.write(dir, two));
    assertTrue(e.getMessage().contains("2 groups") && e.getMessage().contains("has 3"), e.getMessage());
  }

  @Test
  void malformedLogLineFailsTheReportWithFileAndLine(@TempDir Path dir) throws IOException {
    writeRun(dir, List.of(testAt40()));
    Files.writeString(RunLog.metricsFile(dir), "oops\n", java.nio.file.StandardOpenOption.APPEND);
    RunLogFormatException e = assertThrows(RunLogFormatException.class, () -> RunReport.write(dir, settings()));
    assertEquals(STEPS + 1, e.line());
  }

  @Test
  void lossPlotTitleStatesTheSmoothing() {
    List<StepMetrics> hundred = new ArrayList<>();
    for (int s = 1; s <= 100; s++) {
      hundred.add(step(s % STEPS + 1));
    }
    assertEquals("GR-DPO: per-group mean pair loss (train: moving average over 2 steps)",
        ReportPlots.groupLoss("GR-DPO", hundred, List.of(validationAt20()), GROUPS).getTitle());
    assertEquals("GR-DPO: per-group mean pair loss (train: per step)",
        ReportPlots.groupLoss("GR-DPO", hundred.subList(0, 40), List.of(), GROUPS).getTitle());
  }

  @Test
  void movingAverageSkipsMissingGroupLosses() {
    assertEquals(1, ReportPlots.smoothingWindow(0));
    assertEquals(1, ReportPlots.smoothingWindow(99));
    assertEquals(2, ReportPlots.smoothingWindow(100));
    assertArrayEquals(new double[] {1, 1, 3, 4, 5}, ReportPlots.movingAverage(new double[] {1, NAN, 3, 5, NAN}, 2));
    double[] raw = ReportPlots.movingAverage(new double[] {1, NAN, 3}, 1);
    assertEquals(1, raw[0]);
    assertTrue(Double.isNaN(raw[1]));
    assertEquals(3, raw[2]);
  }

  @Test
  void numbersHaveFixedDecimalsWhateverTheDefaultLocale() {
    java.util.Locale saved = java.util.Locale.getDefault();
    try {
      java.util.Locale.setDefault(java.util.Locale.GERMANY);
      assertEquals("0.6167", RunReport.number(1.85 / 3));
      assertEquals("0.0000", RunReport.number(-1e-9), "no negative zero");
      assertEquals("-0.2500", RunReport.number(-0.25));
      assertEquals("n/a", RunReport.number(NAN));
    } finally {
      java.util.Locale.setDefault(saved);
    }
  }

  private static int pixels(BufferedImage image, int rgb) {
    int n = 0;
    for (int y = 0; y < image.getHeight(); y++) {
      for (int x = 0; x < image.getWidth(); x++) {
        if ((image.getRGB(x, y) & 0xFFFFFF) == rgb) {
          n++;
        }
      }
    }
    return n;
  }
}
