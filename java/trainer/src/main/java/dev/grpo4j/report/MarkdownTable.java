package dev.grpo4j.report;

import java.util.List;

/** Markdown tables with padded columns, so the text reads well in a terminal as well as rendered. */
public final class MarkdownTable {
  private MarkdownTable() {}

  /**
   * The table as Markdown lines, each cell padded to its column's widest.
   *
   * @param numeric right-align every column but the first (tables of numbers); otherwise all are left-aligned
   */
  public static String render(List<String> header, List<List<String>> rows, boolean numeric) {
    int[] width = new int[header.size()];
    for (int c = 0; c < width.length; c++) {
      width[c] = Math.max(3, escape(header.get(c)).length());
      for (List<String> row : rows) {
        width[c] = Math.max(width[c], escape(row.get(c)).length());
      }
    }
    StringBuilder sb = new StringBuilder();
    appendRow(sb, header, width, numeric);
    sb.append('|');
    for (int c = 0; c < width.length; c++) {
      boolean right = numeric && c > 0;
      sb.append(right ? "-".repeat(width[c] + 1) + ":" : ":" + "-".repeat(width[c] + 1)).append('|');
    }
    sb.append('\n');
    for (List<String> row : rows) {
      appendRow(sb, row, width, numeric);
    }
    return sb.toString();
  }

  private static void appendRow(StringBuilder sb, List<String> cells, int[] width, boolean numeric) {
    sb.append('|');
    for (int c = 0; c < width.length; c++) {
      String cell = escape(cells.get(c));
      String pad = " ".repeat(width[c] - cell.length());
      sb.append(' ').append(numeric && c > 0 ? pad + cell : cell + pad).append(" |");
    }
    sb.append('\n');
  }

  /** A {@code |} in a cell would end the cell; a line break would end the table. */
  private static String escape(String cell) {
    return cell.replace("|", "\\|").replace("\r", " ").replace("\n", " ");
  }
}
