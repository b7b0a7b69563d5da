package dev.grpo4j.report;

import dev.grpo4j.io.AtomicFiles;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.CategorySeries;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The charts of every grpo4j report (a run's, a comparison's, the synthetic experiment's figures), in one style:
 * 760 x 520, sans-serif bold 13 titles, 2-pixel lines, step numbers with thousands separators, coloured with
 * matplotlib's tab10 palette so that a group keeps its colour in every chart. A run's legends sit right of the
 * plot, where they cannot cover a curve.
 */
public final class ReportPlots {
  private static final Color[] PALETTE = {
      new Color(0x1F, 0x77, 0xB4), new Color(0xFF, 0x7F, 0x0E), new Color(0x2C, 0xA0, 0x2C),
      new Color(0xD6, 0x27, 0x28), new Color(0x94, 0x67, 0xBD), new Color(0x8C, 0x56, 0x4B),
      new Color(0xE3, 0x77, 0xC2), new Color(0x7F, 0x7F, 0x7F), new Color(0xBC, 0xBD, 0x22),
      new Color(0x17, 0xBE, 0xCF)};

  private ReportPlots() {}

  /** About 50 windows over the run: smooths batch noise without hiding trends of short runs. */
  static int smoothingWindow(int steps) {
    return Math.max(1, steps / 50);
  }

  /**
   * Trailing mean over the last {@code window} values that are not NaN (a group absent from a step's batch has no
   * loss there); NaN where the window holds none.
   */
  static double[] movingAverage(double[] values, int window) {
    double[] mean = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      double sum = 0;
      int present = 0;
      for (int j = Math.max(0, i - window + 1); j <= i; j++) {
        if (!Double.isNaN(values[j])) {
          sum += values[j];
          present++;
        }
      }
      mean[i] = present == 0 ? Double.NaN : sum / present;
    }
    return mean;
  }

  /**
   * Per-group training loss (smoothed) as lines and per-group validation loss as markers; {@code null} if there is
   * no point to draw.
   */
  static XYChart groupLoss(String method, List<StepMetrics> steps, List<EvalMetrics> validation,
                           List<String> names) {
    int window = smoothingWindow(steps.size());
    String title = steps.isEmpty() ? method + ": per-group validation loss"
        : method + ": per-group mean pair loss (train: " + (window == 1 ? "per step" : "moving average over "
            + window + " steps") + ")";
    List<Series> series = new ArrayList<>();
    double[] x = steps.stream().mapToDouble(StepMetrics::step).toArray();
    for (int g = 0; g < names.size(); g++) {
      int group = g;
      double[] loss = movingAverage(steps.stream().mapToDouble(s -> s.groupPairLoss()[group]).toArray(), window);
      series.add(Series.of(names.get(g) + " train", g, false, x, loss));
    }
    double[] evalSteps = validation.stream().mapToDouble(EvalMetrics::step).toArray();
    for (int g = 0; g < names.size(); g++) {
      int group = g;
      double[] loss = validation.stream()
          .mapToDouble(e -> e.groupCount()[group] > 0 ? e.groupLoss()[group] : Double.NaN).toArray();
      series.add(Series.of(names.get(g) + " validation", g, true, evalSteps, loss));
    }
    return draw(lineChart(title, "loss"), series);
  }

  /** The group weights after each step; {@code null} without steps that have group weights. */
  static XYChart groupWeights(String method, List<StepMetrics> all, List<String> names) {
    List<StepMetrics> steps = all.stream().filter(StepMetrics::hasGroupWeights).toList();
    XYChart chart = lineChart(method + ": group weights after each step", "weight");
    chart.getStyler().setYAxisMin(0.0);
    List<Series> series = new ArrayList<>();
    double[] x = steps.stream().mapToDouble(StepMetrics::step).toArray();
    for (int g = 0; g < names.size(); g++) {
      int group = g;
      series.add(Series.of(names.get(g), g, false, x,
          steps.stream().mapToDouble(s -> s.groupWeights()[group]).toArray()));
    }
    return draw(chart, series);
  }

  /** One series' finite points, as a line or as markers. */
  private record Series(String name, int group, boolean markers, double[] x, double[] y) {
    static Series of(String name, int group, boolean markers, double[] x, double[] y) {
      int n = 0;
      double[] px = new double[x.length];
      double[] py = new double[y.length];
      for (int i = 0; i < x.length; i++) {
        if (Double.isFinite(y[i])) {
          px[n] = x[i];
          py[n] = y[i];
          n++;
        }
      }
      return new Series(name, group, markers, Arrays.copyOf(px, n), Arrays.copyOf(py, n));
    }
  }

  /** Adds the non-empty series; {@code null} if all are empty. */
  private static XYChart draw(XYChart chart, List<Series> all) {
    List<Series> series = all.stream().filter(s -> s.x().length > 0).toList();
    if (series.isEmpty()) {
      return null;
    }
    // xchart puts the ticks of equally spaced x values (steps 1, 2, 3, ...) on data points, so many that their
    // labels overlap; it chooses round, spaced ticks when the x values in series order are not equally spaced. A
    // hidden point at the last step, added first, makes them so without changing the axes' ranges.
    Series first = series.getFirst();
    double lastStep = series.stream().mapToDouble(s -> s.x()[s.x().length - 1]).max().orElseThrow();
    XYSeries anchor = chart.addSeries(" ", new double[] {lastStep}, new double[] {first.y()[0]});
    anchor.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
    anchor.setMarker(SeriesMarkers.NONE);
    anchor.setShowInLegend(false);
    for (Series s : series) {
      XYSeries drawn = chart.addSeries(s.name(), s.x(), s.y());
      Color color = PALETTE[s.group() % PALETTE.length];
      if (s.markers()) {
        drawn.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        drawn.setMarker(SeriesMarkers.CIRCLE);
        drawn.setMarkerColor(color);
      } else {
        drawn.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        drawn.setLineColor(color);
        drawn.setLineStyle(new BasicStroke(2f));
        drawn.setMarker(SeriesMarkers.NONE);
      }
    }
    return chart;
  }

  /**
   * Reward accuracy of each group with pairs in {@code eval}, as bars; {@code null} if no group has pairs.
   *
   * @param fallback whether {@code eval} stands in for a missing test evaluation (said in the title)
   */
  static CategoryChart groupAccuracy(String method, EvalMetrics eval, List<String> names, boolean fallback) {
    String title = method + ": per-group reward accuracy, " + eval.split().label() + " split at step "
        + eval.step() + (fallback ? " (no test evaluation)" : "");
    CategoryChart chart = new CategoryChartBuilder().width(RunReport.PLOT_WIDTH).height(RunReport.PLOT_HEIGHT)
        .title(title).xAxisTitle("group").yAxisTitle("reward accuracy").build();
    style(chart.getStyler());
    chart.getStyler().setLegendVisible(false);
    chart.getStyler().setYAxisMin(0.0).setYAxisMax(1.0).setYAxisDecimalPattern("0.00");
    chart.getStyler().setLabelsVisible(true).setLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
    List<String> categories = new ArrayList<>();
    List<Double> accuracy = new ArrayList<>();
    for (int g = 0; g < names.size(); g++) {
      if (eval.groupCount()[g] > 0 && Double.isFinite(eval.groupRewardAccuracy()[g])) {
        categories.add(names.get(g));
        accuracy.add(eval.groupRewardAccuracy()[g]);
      }
    }
    if (categories.isEmpty()) {
      return null;
    }
    CategorySeries bars = chart.addSeries("reward accuracy", categories, accuracy);
    bars.setFillColor(PALETTE[0]);
    return chart;
  }

  /**
   * One bar per (group, series): {@code values.get(s)[g]} is series {@code s}'s value for group {@code g}; a
   * non-finite value is drawn as 0.
   *
   * @param unitInterval fix the y axis to [0, 1] (accuracies)
   */
  static CategoryChart groupBars(String title, String yTitle, List<String> groups, List<String> series,
                                 List<double[]> values, boolean unitInterval) {
    CategoryChart chart = new CategoryChartBuilder().width(RunReport.PLOT_WIDTH).height(RunReport.PLOT_HEIGHT)
        .title(title).xAxisTitle("group").yAxisTitle(yTitle).build();
    style(chart.getStyler());
    chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
    chart.getStyler().setYAxisMin(0.0).setYAxisDecimalPattern("0.00");
    if (unitInterval) {
      chart.getStyler().setYAxisMax(1.0);
    }
    for (int s = 0; s < series.size(); s++) {
      List<Double> ys = new ArrayList<>();
      for (double v : values.get(s)) {
        ys.add(Double.isFinite(v) ? v : 0.0);
      }
      chart.addSeries(series.get(s), groups, ys).setFillColor(PALETTE[s % PALETTE.length]);
    }
    return chart;
  }

  /** One line per series over the steps, e.g. one method's worst-group validation loss; {@code null} if empty. */
  static XYChart stepLines(String title, String yTitle, List<String> series, List<double[]> steps,
                           List<double[]> values) {
    List<Series> lines = new ArrayList<>();
    for (int s = 0; s < series.size(); s++) {
      lines.add(Series.of(series.get(s), s, false, steps.get(s), values.get(s)));
    }
    return draw(lineChart(title, yTitle), lines);
  }

  /** Writes {@code chart} as a PNG through a temporary sibling, so readers never see a partial image. */
  static void save(Chart<?, ?> chart, Path file) throws IOException {
    AtomicFiles.write(file, out -> BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG));
  }

  private static XYChart lineChart(String title, String yTitle) {
    XYChart chart = lineChart(title, "step", yTitle);
    chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
    chart.getStyler().setYAxisDecimalPattern("0.00").setMarkerSize(7);
    return chart;
  }

  /** An empty line chart in the house style, with a thousands separator on the x axis. */
  public static XYChart lineChart(String title, String xTitle, String yTitle) {
    XYChart chart = new XYChartBuilder().width(RunReport.PLOT_WIDTH).height(RunReport.PLOT_HEIGHT).title(title)
        .xAxisTitle(xTitle).yAxisTitle(yTitle).build();
    style(chart.getStyler());
    chart.getStyler().setXAxisDecimalPattern("#,###");
    return chart;
  }

  /** Colour {@code index} of the palette (tab10: 0 blue, 1 orange, 2 green, 3 red, 4 purple, ...). */
  public static Color color(int index) {
    return PALETTE[index % PALETTE.length];
  }

  private static void style(Styler styler) {
    // Axis labels follow the styler's locale; a fixed one keeps the images the same on every machine.
    styler.setLocale(Locale.ROOT);
    styler.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
  }
}
