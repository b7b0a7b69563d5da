package dev.grpo4j.cli;

import dev.grpo4j.report.EvalMetrics;
import dev.grpo4j.report.MarkdownTable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * The demo's comparison table, rendered once as a Markdown table with padded columns so that the same text reads
 * well on a terminal and in {@code report.md}.
 */
final class DemoReport {
  /**
   * One trained method's test results.
   *
   * @param name display name
   * @param test per-group test evaluation
   * @param finalWeights the robust group weights at the end of training, or {@code null} for a method without
   */
  record MethodResult(String name, EvalMetrics test, double[] finalWeights) {}

  private DemoReport() {}

  /** The table: a row per group, then worst group, mean over groups and loss imbalance. */
  static String table(long[] trainPairs, List<MethodResult> methods) {
    List<String> header = new ArrayList<>(List.of("group", "train pairs", "test pairs"));
    for (MethodResult m : methods) {
      header.add(m.name() + " loss");
    }
    for (MethodResult m : methods) {
      header.add(m.name() + " acc");
    }
    for (MethodResult m : methods) {
      if (m.finalWeights() != null) {
        header.add(m.name() + " weight");
      }
    }

    long total = 0;
    for (long n : trainPairs) {
      total += n;
    }
    EvalMetrics first = methods.getFirst().test();
    List<List<String>> rows = new ArrayList<>();
    for (int g = 0; g < trainPairs.length; g++) {
      List<String> row = new ArrayList<>();
      row.add(DemoData.groupName(g));
      row.add(trainPairs[g] + " (" + percent((double) trainPairs[g] / total, 0) + ")");
      row.add(Integer.toString(first.groupCount()[g]));
      for (MethodResult m : methods) {
        row.add(number(m.test().groupLoss()[g]));
      }
      for (MethodResult m : methods) {
        row.add(percent(m.test().groupRewardAccuracy()[g], 1));
      }
      for (MethodResult m : methods) {
        if (m.finalWeights() != null) {
          row.add(number(m.finalWeights()[g]));
        }
      }
      rows.add(row);
    }
    rows.add(summaryRow("worst group", methods, EvalMetrics::worstGroupLoss, EvalMetrics::worstGroupRewardAccuracy));
    rows.add(summaryRow("mean over groups", methods, EvalMetrics::averageLoss, EvalMetrics::averageRewardAccuracy));
    rows.add(summaryRow("loss imbalance", methods, EvalMetrics::lossImbalance, null));
    return MarkdownTable.render(header, rows, true);
  }

  private static List<String> summaryRow(String name, List<MethodResult> methods,
                                         ToDoubleFunction<EvalMetrics> loss,
                                         ToDoubleFunction<EvalMetrics> accuracy) {
    List<String> row = new ArrayList<>(List.of("**" + name + "**", "", ""));
    for (MethodResult m : methods) {
      row.add("**" + number(loss.applyAsDouble(m.test())) + "**");
    }
    for (MethodResult m : methods) {
      row.add(accuracy == null ? "" : "**" + percent(accuracy.applyAsDouble(m.test()), 1) + "**");
    }
    for (MethodResult m : methods) {
      if (m.finalWeights() != null) {
        row.add("");
      }
    }
    return row;
  }

  static String number(double value) {
    return String.format(Locale.ROOT, "%.3f", value);
  }

  static String percent(double fraction, int decimals) {
    return String.format(Locale.ROOT, "%." + decimals + "f%%", 100 * fraction);
  }
}
