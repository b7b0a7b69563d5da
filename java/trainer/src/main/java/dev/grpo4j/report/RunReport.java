package dev.grpo4j.report;

import dev.grpo4j.io.AtomicFiles;
import dev.grpo4j.io.RunFolder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import org.knowm.xchart.internal.chartpart.Chart;

/**
 * Writes a training run's report into its folder, from the folder's {@code metrics.jsonl} and {@code eval.jsonl}
 * (see {@link RunLog}):
 *
 * <ul>
 *   <li>{@value #GROUP_LOSS_PLOT}: per-group training loss over the steps, smoothed by a trailing moving average over
 *       {@code max(1, steps / 50)} steps, with the per-group validation loss as markers;
 *   <li>{@value #GROUP_WEIGHTS_PLOT}: the group weights over the steps;
 *   <li>{@value #GROUP_ACCURACY_PLOT}: per-group reward accuracy of the last test evaluation (of the last validation
 *       one if there is no test evaluation, as its title says);
 *   <li>{@value #REPORT_FILE}: the settings, a training summary, the final per-group table with worst-group,
 *       average and imbalance rows, the validation aggregates at each evaluation, and the plots.
 * </ul>
 *
 * <p>A missing or empty log file is stated in the report and the plots it would feed are not drawn (a stale one
 * from an earlier report is removed). Every file is written to a temporary sibling and moved into place, so a
 * reader never sees a partial one. The output depends only on the inputs: numbers have fixed decimals
 * ({@link Locale#ROOT}), and there is no time stamp unless {@link ReportSettings#generatedAt()} gives one.
 */
public final class RunReport {
  /** The Markdown report. */
  public static final String REPORT_FILE = RunFolder.REPORT;
  /** Per-group loss over the steps. */
  public static final String GROUP_LOSS_PLOT = "group_loss.png";
  /** Group weights over the steps. */
  public static final String GROUP_WEIGHTS_PLOT = "group_weights.png";
  /** Per-group reward accuracy of the final evaluation. */
  public static final String GROUP_ACCURACY_PLOT = "group_accuracy.png";
  /** Width of every plot in pixels. */
  public static final int PLOT_WIDTH = 760;
  /** Height of every plot in pixels. */
  public static final int PLOT_HEIGHT = 520;

  private static final String NOT_AVAILABLE = "n/a";

  private RunReport() {}

  /**
   * Reads the run folder's logs and writes the plots and {@value #REPORT_FILE} into it.
   *
   * @param runDir the run folder; it must exist
   * @param settings what the logs do not hold: title, method, hyper-parameters, group names
   * @return the written {@value #REPORT_FILE}
   * @throws RunLogFormatException if a log has a malformed line (other than an incomplete last one)
   * @throws IllegalArgumentException if the logs or the settings disagree on the number of groups
   * @throws IOException if a file cannot be read or written
   */
  public static Path write(Path runDir, ReportSettings settings) throws IOException {
    System.setProperty("java.awt.headless", "true");
    List<String> notes = new ArrayList<>();
    Log<StepMetrics> metrics = Log.read(runDir, RunLog.METRICS_FILE, RunLog::readMetrics, notes);
    Log<EvalMetrics> evals = Log.read(runDir, RunLog.EVAL_FILE, RunLog::readEval, notes);
    List<String> names = groupNames(runDir, settings, metrics.records(), evals.records());

    List<EvalMetrics> validation = evals.records().stream()
        .filter(e -> e.split() == EvalMetrics.Split.VALIDATION).toList();
    EvalMetrics finalTest = evals.records().stream().filter(e -> e.split() == EvalMetrics.Split.TEST)
        .reduce((first, second) -> second).orElse(null);
    boolean fallback = finalTest == null && !validation.isEmpty();
    EvalMetrics finalEval = fallback ? validation.getLast() : finalTest;

    String lossMissing = metrics.records().isEmpty() && validation.isEmpty()
        ? "no training metrics and no validation evaluation" : null;
    String lossNote = plot(runDir, GROUP_LOSS_PLOT, lossMissing,
        () -> ReportPlots.groupLoss(settings.method(), metrics.records(), validation, names));
    String weightsMissing = metrics.records().isEmpty() ? "no training metrics"
        : metrics.records().stream().noneMatch(StepMetrics::hasGroupWeights) ? settings.method() + " has no group "
            + "weights: every pair counts once, so a group counts by its share of each batch" : null;
    String weightsNote = plot(runDir, GROUP_WEIGHTS_PLOT, weightsMissing,
        () -> ReportPlots.groupWeights(settings.method(), metrics.records(), names));
    String accuracyNote = plot(runDir, GROUP_ACCURACY_PLOT, finalEval == null ? "no evaluation" : null,
        () -> ReportPlots.groupAccuracy(settings.method(), finalEval, names, fallback));

    StringBuilder md = new StringBuilder();
    md.append("# ").append(settings.title()).append("\n\n");
    if (settings.generatedAt() != null) {
      md.append("Generated: ").append(settings.generatedAt()).append("\n\n");
    }
    settingsSection(md, settings, names);
    trainingSection(md, metrics);
    finalSection(md, evals, finalEval, fallback, metrics.records(), names);
    validationSection(md, evals, validation);
    md.append("## Plots\n\n");
    image(md, "Per-group loss", GROUP_LOSS_PLOT, lossNote);
    image(md, "Group weights", GROUP_WEIGHTS_PLOT, weightsNote);
    image(md, "Per-group reward accuracy", GROUP_ACCURACY_PLOT, accuracyNote);
    if (accuracyNote == null) {
      List<String> without = new ArrayList<>();
      for (int g = 0; g < names.size(); g++) {
        if (finalEval.groupCount()[g] == 0) {
          without.add(names.get(g));
        }
      }
      if (!without.isEmpty()) {
        md.append("_Groups without pairs in that evaluation, not in the bar chart: ").append(String.join(", ", without))
            .append("._\n\n");
      }
    }
    if (!notes.isEmpty()) {
      md.append("## Notes\n\n");
      notes.forEach(note -> md.append("- ").append(note).append('\n'));
      md.append('\n');
    }

    Path report = new RunFolder(runDir).report();
    byte[] text = (md.toString().stripTrailing() + "\n").getBytes(StandardCharsets.UTF_8);
    AtomicFiles.write(report, out -> out.write(text));
    return report;
  }

  /** A log's records, or why there are none. */
  private record Log<T>(List<T> records, String absence) {
    interface Reader<T> {
      List<T> read(Path file, Consumer<String> warnings) throws IOException;
    }

    static <T> Log<T> read(Path runDir, String name, Reader<T> reader, List<String> notes) throws IOException {
      Path file = runDir.resolve(name);
      if (!Files.isRegularFile(file)) {
        return new Log<>(List.of(), name + " not found");
      }
      // The notes name the file relative to the run folder, so the report does not change when the folder moves.
      List<T> records = reader.read(file, warning -> {
        RunLog.logWarning(warning);
        notes.add(warning.replace(file.toString(), name));
      });
      return new Log<>(records, records.isEmpty() ? name + " is empty" : null);
    }
  }

  private static List<String> groupNames(Path runDir, ReportSettings settings, List<StepMetrics> steps,
                                         List<EvalMetrics> evals) {
    int groups = -1;
    String source = null;
    for (StepMetrics s : steps) {
      if (groups >= 0 && s.numberOfGroups() != groups) {
        throw new IllegalArgumentException(runDir + ": " + RunLog.METRICS_FILE + " step " + s.step() + " has "
            + s.numberOfGroups() + " groups, " + source + " has " + groups);
      }
      groups = s.numberOfGroups();
      source = source == null ? RunLog.METRICS_FILE + " step " + s.step() : source;
    }
    for (EvalMetrics e : evals) {
      if (groups >= 0 && e.numberOfGroups() != groups) {
        throw new IllegalArgumentException(runDir + ": " + RunLog.EVAL_FILE + " " + e.split().label() + " step "
            + e.step() + " has " + e.numberOfGroups() + " groups, " + source + " has " + groups);
      }
      groups = e.numberOfGroups();
      source = source == null ? RunLog.EVAL_FILE + " " + e.split().label() + " step " + e.step() : source;
    }
    if (!settings.groupNames().isEmpty()) {
      if (groups >= 0 && settings.groupNames().size() != groups) {
        throw new IllegalArgumentException(runDir + ": the settings name " + settings.groupNames().size()
            + " groups, " + source + " has " + groups);
      }
      return settings.groupNames();
    }
    if (!evals.isEmpty() && evals.getFirst().groups().stream().distinct().count() == groups) {
      return evals.getFirst().groups();
    }
    List<String> names = new ArrayList<>();
    for (int g = 0; g < Math.max(groups, 0); g++) {
      names.add("g" + g);
    }
    return names;
  }

  private interface ChartSource {
    Chart<?, ?> chart();
  }

  /** Draws one plot; returns why it was not drawn, or {@code null} if it was. */
  private static String plot(Path runDir, String name, String missing, ChartSource source) throws IOException {
    Path file = runDir.resolve(name);
    Chart<?, ?> chart = missing == null ? source.chart() : null;
    if (chart == null) {
      // A plot left by an earlier report would show data the report no longer describes.
      Files.deleteIfExists(file);
      return missing == null ? "no finite values to draw" : missing;
    }
    ReportPlots.save(chart, file);
    return null;
  }

  private static void settingsSection(StringBuilder md, ReportSettings settings, List<String> names) {
    md.append("## Settings\n\n");
    List<List<String>> rows = new ArrayList<>();
    rows.add(List.of("method", settings.method()));
    rows.add(List.of("groups", names.isEmpty() ? NOT_AVAILABLE : String.join(", ", names)));
    for (Map.Entry<String, String> e : settings.hyperParameters().entrySet()) {
      rows.add(List.of(e.getKey(), e.getValue()));
    }
    md.append(MarkdownTable.render(List.of("setting", "value"), rows, false)).append('\n');
  }

  private static void trainingSection(StringBuilder md, Log<StepMetrics> metrics) {
    md.append("## Training\n\n");
    if (metrics.absence() != null) {
      md.append("_No training metrics: ").append(metrics.absence()).append("._\n\n");
      return;
    }
    List<StepMetrics> steps = metrics.records();
    StepMetrics last = steps.getLast();
    double throughput = steps.stream().mapToDouble(StepMetrics::tokensPerSecond).filter(Double::isFinite)
        .average().orElse(Double.NaN);
    md.append("- steps logged: ").append(steps.size()).append(" (steps ").append(steps.getFirst().step())
        .append(" to ").append(last.step()).append(")\n");
    md.append("- final epoch: ").append(number(last.epoch(), 2)).append('\n');
    md.append("- final loss: ").append(number(last.loss())).append('\n');
    md.append("- final learning rate: ").append(scientific(last.lr())).append('\n');
    md.append("- final gradient norm: ").append(number(last.gradNorm())).append('\n');
    md.append("- mean throughput: ").append(number(throughput, 1)).append(" tokens/s\n");
    md.append("- per-group losses in `metrics.jsonl`: `group_pair_loss` is the mean loss of a group's pairs in the "
        + "step (plotted below); `group_objective_loss` is the group loss L_g the objective and the group-weight "
        + "update use, normalised as the settings say and 0 for a group without pairs in the step\n\n");
  }

  private static void finalSection(StringBuilder md, Log<EvalMetrics> evals, EvalMetrics eval, boolean fallback,
                                   List<StepMetrics> steps, List<String> names) {
    if (eval == null) {
      md.append("## Final test results\n\n");
      md.append(evals.absence() != null ? "_No evaluation results: " + evals.absence() + "._\n\n"
          : "_No test or validation evaluation in " + RunLog.EVAL_FILE + "._\n\n");
      return;
    }
    md.append("## Final ").append(eval.split().label()).append(" results (step ").append(eval.step())
        .append(")\n\n");
    if (fallback) {
      md.append("_No test evaluation in ").append(RunLog.EVAL_FILE)
          .append(": the last validation evaluation is shown._\n\n");
    }
    double[] weights = steps.isEmpty() ? null : steps.getLast().groupWeights();
    md.append(groupTable(eval, names, weights));
    md.append("\nWorst group, average and imbalance are over the groups with pairs, each group counting once"
        + (weights == null ? "" : "; final weight is the group weight after the last logged training step")
        + ".\n\n");
  }

  /**
   * The per-group results of one evaluation as a Markdown table (pairs, loss, reward and log-prob accuracy,
   * margin, group weight) with worst-group, average and loss-imbalance rows.
   *
   * @param names group names in id order (one per group of {@code eval})
   * @param weights group weights to show, or null for none (the column is left out)
   */
  public static String groupTable(EvalMetrics eval, List<String> names, double[] weights) {
    int[] count = eval.groupCount();
    double[] loss = eval.groupLoss();
    double[] reward = eval.groupRewardAccuracy();
    double[] logprob = eval.groupLogprobAccuracy();
    double[] margin = eval.groupMargin();
    List<List<String>> rows = new ArrayList<>();
    for (int g = 0; g < names.size(); g++) {
      boolean counted = count[g] > 0;
      rows.add(withWeight(weights, weights == null ? null : number(weights[g]), names.get(g),
          Integer.toString(count[g]), counted ? number(loss[g]) : NOT_AVAILABLE,
          counted ? number(reward[g]) : NOT_AVAILABLE, counted ? number(logprob[g]) : NOT_AVAILABLE,
          counted ? number(margin[g]) : NOT_AVAILABLE));
    }
    rows.add(withWeight(weights, "", "**worst group**", "", number(eval.worstGroupLoss()),
        number(eval.worstGroupRewardAccuracy()), "", ""));
    rows.add(withWeight(weights, "", "**average**", "", number(eval.averageLoss()),
        number(eval.averageRewardAccuracy()), "", ""));
    rows.add(withWeight(weights, "", "**loss imbalance**", "", number(eval.lossImbalance()), "", "", ""));
    return MarkdownTable.render(withWeight(weights, "final weight", "group", "pairs", "loss", "reward acc",
        "log-prob acc", "margin"), rows, true);
  }

  /** The cells, with {@code weight} appended when there are group weights. */
  private static List<String> withWeight(double[] weights, String weight, String... cells) {
    List<String> row = new ArrayList<>(List.of(cells));
    if (weights != null) {
      row.add(weight);
    }
    return row;
  }

  private static void validationSection(StringBuilder md, Log<EvalMetrics> evals, List<EvalMetrics> validation) {
    md.append("## Validation during training\n\n");
    if (validation.isEmpty()) {
      md.append(evals.absence() != null ? "_No evaluation results: " + evals.absence() + "._\n\n"
          : "_No validation evaluation in " + RunLog.EVAL_FILE + "._\n\n");
      return;
    }
    List<List<String>> rows = new ArrayList<>();
    for (EvalMetrics e : validation) {
      rows.add(List.of(Integer.toString(e.step()), number(e.worstGroupLoss()), number(e.averageLoss()),
          number(e.lossImbalance()), number(e.worstGroupRewardAccuracy()), number(e.averageRewardAccuracy())));
    }
    md.append(MarkdownTable.render(List.of("step", "worst-group loss", "average loss", "loss imbalance",
        "worst-group reward acc", "average reward acc"), rows, true)).append('\n');
  }

  private static void image(StringBuilder md, String alt, String file, String missing) {
    if (missing == null) {
      md.append("![").append(alt).append("](").append(file).append(")\n\n");
    } else {
      md.append("_").append(file).append(" not drawn: ").append(missing).append("._\n\n");
    }
  }

  /** Four decimals: enough to tell groups apart, few enough that float32 noise does not show. */
  static String number(double value) {
    return number(value, 4);
  }

  static String number(double value, int decimals) {
    if (!Double.isFinite(value)) {
      return NOT_AVAILABLE;
    }
    String text = String.format(Locale.ROOT, "%." + decimals + "f", value);
    // A tiny negative value rounds to "-0.0000", which reads as a sign error.
    return text.matches("-0\\.?0*") ? text.substring(1) : text;
  }

  private static String scientific(double value) {
    return Double.isFinite(value) ? String.format(Locale.ROOT, "%.3e", value) : NOT_AVAILABLE;
  }
}
