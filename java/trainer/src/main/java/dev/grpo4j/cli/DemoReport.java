package dev.grpo4j.cli;

import dev.grpo4j.torch.GroupEvaluation;
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
  record MethodResult(String name, GroupEvaluation test, double[] finalWeights) {}

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
    GroupEvaluation first = methods.getFirst().test();
    List<List<String>> rows = new ArrayList<>();
    for (int g = 0; g < trainPairs.length; g++) {
      List<String> row = new ArrayList<>();
      row.add(DemoData.groupName(g));
      row.add(trainPairs[g] + " (" + percent((double) trainPairs[g] / total, 0) + ")");
      row.add(Long.toString(first.pairs()[g]));
      for (MethodResult m : methods) {
        row.add(number(m.test().loss()[g]));
      }
      for (MethodResult m : methods) {
        row.add(percent(m.test().rewardAccuracy()[g], 1));
      }
      for (MethodResult m : methods) {
        if (m.finalWeights() != null) {
          row.add(number(m.finalWeights()[g]));
        }
      }
      rows.add(row);
    }
    rows.add(summaryRow("worst group", methods, GroupEvaluation::worstGroupLoss,
        GroupEvaluation::worstGroupRewardAccuracy));
    rows.add(summaryRow("mean over groups", methods, GroupEvaluation::averageGroupLoss,
        GroupEvaluation::averageGroupRewardAccuracy));
    rows.add(summaryRow("loss imbalance", methods, GroupEvaluation::lossImbalance, null));
    return markdown(header, rows);
  }

  private static List<String> summaryRow(String name, List<MethodResult> methods,
                                         ToDoubleFunction<GroupEvaluation> loss,
                                         ToDoubleFunction<GroupEvaluation> accuracy) {
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

  static String markdown(List<String> header, List<List<String>> rows) {
    int[] width = new int[header.size()];
    for (int c = 0; c < width.length; c++) {
      width[c] = Math.max(3, header.get(c).length());
      for (List<String> row : rows) {
        width[c] = Math.max(width[c], row.get(c).length());
      }
    }
    StringBuilder sb = new StringBuilder();
    appendRow(sb, header, width);
    sb.append('|');
    for (int c = 0; c < width.length; c++) {
      // Numbers right-aligned, the label column left-aligned.
      sb.append(c == 0 ? ":" + "-".repeat(width[c] + 1) : "-".repeat(width[c] + 1) + ":").append('|');
    }
    sb.append('\n');
    for (List<String> row : rows) {
      appendRow(sb, row, width);
    }
    return sb.toString();
  }

  private static void appendRow(StringBuilder sb, List<String> cells, int[] width) {
    sb.append('|');
    for (int c = 0; c < width.length; c++) {
      String cell = cells.get(c);
      String pad = " ".repeat(width[c] - cell.length());
      sb.append(' ').append(c == 0 ? cell + pad : pad + cell).append(" |");
    }
    sb.append('\n');
  }

  static String number(double value) {
    return String.format(Locale.ROOT, "%.3f", value);
  }

  static String percent(double fraction, int decimals) {
    return String.format(Locale.ROOT, "%." + decimals + "f%%", 100 * fraction);
  }
}
