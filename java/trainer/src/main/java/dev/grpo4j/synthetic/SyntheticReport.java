package dev.grpo4j.synthetic;

import com.fasterxml.jackson.databind.SequenceWriter;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import dev.grpo4j.report.ReportPlots;
import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.io.Writer;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The outputs of a synthetic experiment: {@code curves.csv} (every logged point of every run), {@code summary.csv}
 * (mean and standard deviation over seeds at the final iteration, one row per method) and PNG figures in the style of
 * the paper's (mean over seeds with a band of one standard deviation). Standard deviations are population ones
 * ({@code ddof = 0}, numpy's default).
 */
public final class SyntheticReport {
  /** Column order of {@code summary.csv}. */
  public static final List<String> SUMMARY_COLUMNS =
      List.of("method", "worst_val_loss_mean", "worst_val_loss_std", "max_reward_err_mean", "max_reward_err_std");

  private static final int GROUPS = GroupLinearBandit.GROUPS;

  /** Mean and population standard deviation. */
  public record Stat(double mean, double std) {
    static Stat of(double[] values) {
      double mean = 0;
      for (double v : values) {
        mean += v;
      }
      mean /= values.length;
      double var = 0;
      for (double v : values) {
        var += (v - mean) * (v - mean);
      }
      return new Stat(mean, Math.sqrt(var / values.length));
    }
  }

  /** One method's final-iteration statistics over the seeds. */
  public record SummaryRow(SyntheticMethod method, Stat worstValLoss, Stat maxRewardError, Stat[] groupWeights) {}

  private SyntheticReport() {}

  /** The summary rows, in the order of the configured methods. */
  public static List<SummaryRow> summary(SyntheticExperiment.Results results) {
    List<SummaryRow> rows = new ArrayList<>();
    for (SyntheticMethod method : results.config().methods()) {
      List<LogLinearTrainer.Run> runs = results.runs().get(method);
      double[] loss = runs.stream().mapToDouble(r -> r.last().worstValLoss()).toArray();
      double[] err = runs.stream().mapToDouble(r -> r.last().maxRewardError()).toArray();
      Stat[] weights = new Stat[GROUPS];
      for (int g = 0; g < GROUPS; g++) {
        int group = g;
        weights[g] = Stat.of(runs.stream().mapToDouble(r -> r.last().groupWeights()[group]).toArray());
      }
      rows.add(new SummaryRow(method, Stat.of(loss), Stat.of(err), weights));
    }
    return rows;
  }

  /** Writes {@code summary.csv} with exactly {@link #SUMMARY_COLUMNS}. */
  public static void writeSummary(List<SummaryRow> rows, Path file) throws IOException {
    CsvSchema.Builder schema = CsvSchema.builder().setUseHeader(true);
    SUMMARY_COLUMNS.forEach(schema::addColumn);
    try (Writer out = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
         SequenceWriter csv = new CsvMapper().writer(schema.build()).writeValues(out)) {
      for (SummaryRow r : rows) {
        csv.write(List.of(r.method().label(), round(r.worstValLoss().mean()), round(r.worstValLoss().std()),
            round(r.maxRewardError().mean()), round(r.maxRewardError().std())));
      }
    }
  }

  /** Writes {@code curves.csv}: one row per method, seed and logged iteration. */
  public static void writeCurves(SyntheticExperiment.Results results, Path file) throws IOException {
    List<String> columns = new ArrayList<>(List.of("method", "seed", "iteration", "worst_val_loss"));
    for (int g = 0; g < GROUPS; g++) {
      columns.add("val_loss_g" + g);
    }
    for (int g = 0; g < GROUPS; g++) {
      columns.add("train_loss_g" + g);
    }
    columns.add("max_reward_err");
    for (int g = 0; g < GROUPS; g++) {
      columns.add("reward_err_g" + g);
    }
    for (int g = 0; g < GROUPS; g++) {
      columns.add("weight_g" + g);
    }
    for (int k = 0; k < GroupLinearBandit.FEATURE_DIM; k++) {
      columns.add("theta_" + k);
    }
    CsvSchema.Builder schema = CsvSchema.builder().setUseHeader(true);
    columns.forEach(schema::addColumn);
    try (Writer out = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
         SequenceWriter csv = new CsvMapper().writer(schema.build()).writeValues(out)) {
      for (SyntheticMethod method : results.config().methods()) {
        for (LogLinearTrainer.Run run : results.runs().get(method)) {
          for (LogLinearTrainer.Point p : run.curve()) {
            List<Object> row = new ArrayList<>(columns.size());
            row.add(method.label());
            row.add(run.seed());
            row.add(p.iteration());
            row.add(round(p.worstValLoss()));
            addAll(row, p.valGroupLoss());
            addAll(row, p.trainGroupLoss());
            row.add(round(p.maxRewardError()));
            addAll(row, p.rewardError());
            addAll(row, p.groupWeights());
            addAll(row, p.theta());
            csv.write(row);
          }
        }
      }
    }
  }

  /** The summary as a Markdown table (also printed by the command). */
  public static String markdown(List<SummaryRow> rows) {
    StringBuilder sb = new StringBuilder();
    sb.append("| method | worst-group val loss (mean ± std) | max reward error (mean ± std) "
        + "| final weights g0 / g1 |\n");
    sb.append("|:---|---:|---:|---:|\n");
    for (SummaryRow r : rows) {
      sb.append(String.format(Locale.ROOT, "| %s | %.4f ± %.4f | %.4f ± %.4f | %.3f / %.3f |%n", r.method().label(),
          r.worstValLoss().mean(), r.worstValLoss().std(), r.maxRewardError().mean(), r.maxRewardError().std(),
          r.groupWeights()[0].mean(), r.groupWeights()[1].mean()));
    }
    return sb.toString();
  }

  /**
   * Writes {@code worst_val_loss.png} and {@code max_reward_err.png} (one panel per loss family: the paper's DPO
   * left, IPO right, then any other losses) and
   * {@code group_weights.png} (the group weights of the robust methods).
   */
  public static List<Path> writeFigures(SyntheticExperiment.Results results, Path dir, String title)
      throws IOException {
    System.setProperty("java.awt.headless", "true");
    Map<String, List<SyntheticMethod>> families = new LinkedHashMap<>();
    for (SyntheticMethod m : results.config().methods()) {
      families.computeIfAbsent(m.family(), f -> new ArrayList<>()).add(m);
    }
    List<Path> written = new ArrayList<>();
    List<XYChart> loss = new ArrayList<>();
    List<XYChart> error = new ArrayList<>();
    for (Map.Entry<String, List<SyntheticMethod>> family : families.entrySet()) {
      loss.add(metricChart(results, family.getValue(), title + ": worst-group validation loss (" + family.getKey()
          + " loss)", "worst-group loss", LogLinearTrainer.Point::worstValLoss));
      error.add(metricChart(results, family.getValue(), title + ": max reward error", "max over groups of (r*-r)/r*",
          LogLinearTrainer.Point::maxRewardError));
    }
    written.add(grid(dir.resolve("worst_val_loss.png"), loss));
    written.add(grid(dir.resolve("max_reward_err.png"), error));
    List<XYChart> weightCharts = new ArrayList<>();
    for (SyntheticMethod m : results.config().methods()) {
      if (m.weighting() == dev.grpo4j.Weighting.ROBUST) {
        weightCharts.add(weightChart(results, m, title));
      }
    }
    if (!weightCharts.isEmpty()) {
      written.add(grid(dir.resolve("group_weights.png"), weightCharts));
    }
    return written;
  }

  private static Path grid(Path file, List<XYChart> charts) throws IOException {
    BitmapEncoder.saveBitmap(charts, 1, charts.size(), file.toString(), BitmapEncoder.BitmapFormat.PNG);
    return file;
  }

  private static XYChart metricChart(SyntheticExperiment.Results results, List<SyntheticMethod> methods, String title,
                                     String yTitle, ToDoubleFunction<LogLinearTrainer.Point> metric) {
    XYChart chart = chart(title, yTitle);
    double top = Double.NEGATIVE_INFINITY;
    double bottom = Double.POSITIVE_INFINITY;
    for (SyntheticMethod m : methods) {
      double[] range = band(chart, m.label(), color(m), results.runs().get(m), p -> metric.applyAsDouble(p));
      bottom = Math.min(bottom, range[0]);
      top = Math.max(top, range[1]);
    }
    // The first steps can move a loss by an order of magnitude (IPO from theta0 especially): the axis is fitted to
    // the curves after the first 2 % of the iterations so that the differences between methods stay visible.
    double pad = 0.05 * (top - bottom);
    chart.getStyler().setYAxisMin(Math.max(0, bottom - pad)).setYAxisMax(top + pad);
    return chart;
  }

  private static XYChart weightChart(SyntheticExperiment.Results results, SyntheticMethod method, String title) {
    XYChart chart = chart(title + ": " + method.label() + " group weights", "weight");
    chart.getStyler().setYAxisMin(0.0).setYAxisMax(1.0);
    int[] colors = {3, 0};
    for (int g = 0; g < GROUPS; g++) {
      int group = g;
      band(chart, "group " + g, ReportPlots.color(colors[g % colors.length]), results.runs().get(method),
          p -> p.groupWeights()[group]);
    }
    return chart;
  }

  private static XYChart chart(String title, String yTitle) {
    XYChart chart = ReportPlots.lineChart(title, "iteration", yTitle);
    chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE).setMarkerSize(0);
    return chart;
  }

  /**
   * Mean over runs as a line and mean ± std as a translucent polygon, at the runs' common logged iterations. Returns
   * the band's lowest and highest value after the first 2 % of the iterations.
   */
  private static double[] band(XYChart chart, String name, Color color, List<LogLinearTrainer.Run> runs,
                           Function<LogLinearTrainer.Point, Double> value) {
    int points = runs.getFirst().curve().size();
    double[] x = new double[points];
    double[] mean = new double[points];
    double[] std = new double[points];
    for (int i = 0; i < points; i++) {
      x[i] = runs.getFirst().curve().get(i).iteration();
      double[] v = new double[runs.size()];
      for (int s = 0; s < runs.size(); s++) {
        v[s] = value.apply(runs.get(s).curve().get(i));
      }
      Stat stat = Stat.of(v);
      mean[i] = stat.mean();
      std[i] = stat.std();
    }
    double[] px = new double[2 * points];
    double[] py = new double[2 * points];
    for (int i = 0; i < points; i++) {
      px[i] = x[i];
      py[i] = mean[i] + std[i];
      px[2 * points - 1 - i] = x[i];
      py[2 * points - 1 - i] = mean[i] - std[i];
    }
    XYSeries area = chart.addSeries(name + " ± std", px, py);
    area.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.PolygonArea);
    area.setFillColor(new Color(color.getRed(), color.getGreen(), color.getBlue(), 50));
    area.setLineColor(new Color(0, 0, 0, 0));
    area.setMarker(SeriesMarkers.NONE);
    area.setShowInLegend(false);
    XYSeries line = chart.addSeries(name, x, mean);
    line.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
    line.setLineColor(color);
    line.setLineStyle(new BasicStroke(2f));
    line.setMarker(SeriesMarkers.NONE);
    double skip = 0.02 * x[points - 1];
    double[] range = {Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY};
    for (int i = 0; i < points; i++) {
      if (x[i] >= skip || points == 1) {
        range[0] = Math.min(range[0], mean[i] - std[i]);
        range[1] = Math.max(range[1], mean[i] + std[i]);
      }
    }
    return range;
  }

  /** The paper's colours by family: plain blue, importance-sampled green, robust red, closed form purple. */
  private static Color color(SyntheticMethod m) {
    if (m.closedForm()) {
      return ReportPlots.color(4);
    }
    return switch (m.weighting()) {
      case AVERAGE -> ReportPlots.color(0);
      case IMPORTANCE_SAMPLING -> ReportPlots.color(2);
      case ROBUST -> ReportPlots.color(3);
    };
  }

  private static void addAll(List<Object> row, double[] values) {
    for (double v : values) {
      row.add(round(v));
    }
  }

  /** Seven significant digits: the losses come from float32 and more digits would only be noise. */
  static double round(double v) {
    if (!Double.isFinite(v) || v == 0) {
      return v;
    }
    return new BigDecimal(v).round(new MathContext(7)).doubleValue();
  }
}
