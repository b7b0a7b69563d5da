package dev.grpo4j.report;

import dev.grpo4j.io.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;

/**
 * Several runs of the same data side by side, for a folder that holds one run folder per method: a per-group table
 * of their test results, bar charts of each group's test loss and reward accuracy per method, and each method's
 * worst-group validation loss over the steps, drawn from the runs' own {@code eval.jsonl}.
 */
public final class ComparisonReport {
  /** Per-group test loss, a bar per method. */
  public static final String TEST_LOSS_PLOT = "comparison_test_loss.png";
  /** Per-group test reward accuracy, a bar per method. */
  public static final String TEST_ACCURACY_PLOT = "comparison_test_accuracy.png";
  /** Worst-group validation loss over the steps, a line per method. */
  public static final String WORST_GROUP_PLOT = "comparison_worst_group_validation_loss.png";

  private ComparisonReport() {}

  /**
   * One compared run.
   *
   * @param name the method's display name, e.g. {@code GR-DPO}
   * @param folder its run folder, a subfolder of the comparison's folder
   * @param test its test evaluation
   * @param finalWeights its group weights after the last step, or null for a method without group weights
   */
  public record Run(String name, Path folder, EvalMetrics test, double[] finalWeights) {}

  /**
   * The comparison table, padded so that it reads the same on a terminal and in Markdown: a row per group (its
   * training pairs and share, test pairs, each method's loss and reward accuracy, the final weights of the methods
   * that have them), then worst group, mean over groups and loss imbalance.
   *
   * @param trainPairs training pairs per group
   */
  public static String table(List<String> groups, long[] trainPairs, List<Run> runs) {
    List<Run> weighted = runs.stream().filter(r -> r.finalWeights() != null).toList();
    List<String> header = new ArrayList<>(List.of("group", "train pairs", "test pairs"));
    runs.forEach(r -> header.add(r.name() + " loss"));
    runs.forEach(r -> header.add(r.name() + " acc"));
    weighted.forEach(r -> header.add(r.name() + " weight"));
    long total = 0;
    for (long n : trainPairs) {
      total += n;
    }
    List<List<String>> rows = new ArrayList<>();
    for (int g = 0; g < groups.size(); g++) {
      int group = g;
      List<String> row = new ArrayList<>(List.of(groups.get(g),
          trainPairs[g] + " (" + percent((double) trainPairs[g] / total, 0) + ")",
          Integer.toString(runs.getFirst().test().groupCount()[g])));
      runs.forEach(r -> row.add(number(r.test().groupLoss()[group])));
      runs.forEach(r -> row.add(percent(r.test().groupRewardAccuracy()[group], 1)));
      weighted.forEach(r -> row.add(number(r.finalWeights()[group])));
      rows.add(row);
    }
    rows.add(summaryRow("worst group", runs, weighted, EvalMetrics::worstGroupLoss,
        EvalMetrics::worstGroupRewardAccuracy));
    rows.add(summaryRow("mean over groups", runs, weighted, EvalMetrics::averageLoss,
        EvalMetrics::averageRewardAccuracy));
    rows.add(summaryRow("loss imbalance", runs, weighted, EvalMetrics::lossImbalance, null));
    return MarkdownTable.render(header, rows, true);
  }

  /**
   * Draws the three comparison plots into {@code folder} and writes its {@code report.md}: {@code intro}, the
   * table, the plots, each run's own report and group-weight plot linked, then {@code settings}.
   *
   * @param intro Markdown before the table (what is compared and why)
   * @param settings Markdown after the plots (how the runs were made)
   * @return the written report
   */
  public static Path write(Path folder, String title, String intro, String settings, List<String> groups,
                           long[] trainPairs, List<Run> runs) throws IOException {
    System.setProperty("java.awt.headless", "true");
    ReportPlots.save(ReportPlots.groupBars("Test loss per group", "loss", groups, names(runs),
        values(runs, r -> r.test().groupLoss()), false), folder.resolve(TEST_LOSS_PLOT));
    ReportPlots.save(ReportPlots.groupBars("Test reward accuracy per group", "reward accuracy", groups, names(runs),
        values(runs, r -> r.test().groupRewardAccuracy()), true), folder.resolve(TEST_ACCURACY_PLOT));
    List<double[]> steps = new ArrayList<>();
    List<double[]> worst = new ArrayList<>();
    for (Run r : runs) {
      List<EvalMetrics> validation = RunLog.readEval(RunLog.evalFile(r.folder())).stream()
          .filter(e -> e.split() == EvalMetrics.Split.VALIDATION).toList();
      steps.add(validation.stream().mapToDouble(EvalMetrics::step).toArray());
      worst.add(validation.stream().mapToDouble(EvalMetrics::worstGroupLoss).toArray());
    }
    boolean curves = worst.stream().anyMatch(w -> w.length > 0);
    if (curves) {
      ReportPlots.save(ReportPlots.stepLines("Worst-group validation loss", "worst-group loss", names(runs), steps,
          worst), folder.resolve(WORST_GROUP_PLOT));
    }

    StringBuilder md = new StringBuilder("# ").append(title).append("\n\n").append(intro.strip()).append("\n\n");
    md.append("## Test split, per group\n\n").append(table(groups, trainPairs, runs)).append('\n');
    md.append("`loss`: mean loss of the group's test pairs; `acc`: reward accuracy, the share of pairs whose implicit "
        + "reward margin is positive; `weight`: the method's group weight after the last step. Worst group: the "
        + "highest loss and the lowest accuracy over the groups; loss imbalance: highest minus lowest group loss."
        + "\n\n");
    md.append("## Plots\n\n");
    md.append("![Test loss per group](").append(TEST_LOSS_PLOT).append(")\n\n");
    md.append("![Test reward accuracy per group](").append(TEST_ACCURACY_PLOT).append(")\n\n");
    if (curves) {
      md.append("![Worst-group validation loss](").append(WORST_GROUP_PLOT).append(")\n\n");
    }
    for (Run r : runs) {
      Path relative = folder.relativize(r.folder());
      if (r.finalWeights() != null) {
        md.append("![").append(r.name()).append(" group weights](").append(relative.resolve(
            RunReport.GROUP_WEIGHTS_PLOT)).append(")\n\n");
      }
    }
    md.append("## The runs\n\n");
    for (Run r : runs) {
      Path relative = folder.relativize(r.folder());
      md.append("- ").append(r.name()).append(": [`").append(relative).append("/`](").append(relative.resolve(
          RunReport.REPORT_FILE)).append(") (`metrics.jsonl`, `eval.jsonl`, plots, checkpoints, final model)\n");
    }
    md.append("\n## Settings\n\n").append(settings.strip()).append('\n');
    Path report = folder.resolve(RunReport.REPORT_FILE);
    byte[] text = md.toString().getBytes(StandardCharsets.UTF_8);
    AtomicFiles.write(report, out -> out.write(text));
    return report;
  }

  private static List<String> names(List<Run> runs) {
    return runs.stream().map(Run::name).toList();
  }

  private static List<double[]> values(List<Run> runs, Function<Run, double[]> metric) {
    return runs.stream().map(metric).toList();
  }

  private static List<String> summaryRow(String name, List<Run> runs, List<Run> weighted,
                                         ToDoubleFunction<EvalMetrics> loss, ToDoubleFunction<EvalMetrics> accuracy) {
    List<String> row = new ArrayList<>(List.of("**" + name + "**", "", ""));
    runs.forEach(r -> row.add("**" + number(loss.applyAsDouble(r.test())) + "**"));
    runs.forEach(r -> row.add(accuracy == null ? "" : "**" + percent(accuracy.applyAsDouble(r.test()), 1) + "**"));
    weighted.forEach(r -> row.add(""));
    return row;
  }

  private static String number(double value) {
    return String.format(Locale.ROOT, "%.3f", value);
  }

  private static String percent(double fraction, int decimals) {
    return String.format(Locale.ROOT, "%." + decimals + "f%%", 100 * fraction);
  }
}
