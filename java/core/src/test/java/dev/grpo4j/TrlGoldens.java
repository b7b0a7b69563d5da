package dev.grpo4j;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The goldens TRL 1.13 computed for every preference loss (trl_loss_goldens.tsv, written by trl_loss_goldens.py next
 * to it): cases of one loss setting, each over the same nine pairs, scored pair by pair or as one batch.
 */
final class TrlGoldens {
  /** One loss setting: TRL's names and options, in the dtype TRL computed it. */
  record Setting(String kind, String dtype, String losses, String weights, double beta, double eps, String fdiv,
                 double alpha, double tau, double gamma) {
    List<String> lossNames() {
      return List.of(losses.split(","));
    }

    double[] weightValues() {
      return Arrays.stream(weights.split(",")).mapToDouble(Double::parseDouble).toArray();
    }

    @Override
    public String toString() {
      return kind + " " + losses + " [" + weights + "] beta " + beta + " eps " + eps + " " + fdiv + " alpha " + alpha
          + " tau " + tau + " gamma " + gamma + " (" + dtype + ")";
    }
  }

  /** One pair: its inputs and TRL's loss ("pair": the pair's own; "batch": the batch's) and derivatives in s. */
  record Row(int pair, double sw, double sl, double refw, double refl, int nw, int nl, double value, double dsw,
             double dsl) {}

  private TrlGoldens() {}

  static Map<Setting, List<Row>> read() {
    Map<Setting, List<Row>> cases = new LinkedHashMap<>();
    try (InputStream in = TrlGoldens.class.getResourceAsStream("trl_loss_goldens.tsv")) {
      if (in == null) {
        throw new IllegalStateException("trl_loss_goldens.tsv is missing from the test resources");
      }
      BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
      String line;
      boolean header = true;
      while ((line = reader.readLine()) != null) {
        if (line.startsWith("#")) {
          continue;
        }
        if (header) {
          header = false;
          continue;
        }
        String[] f = line.split("\t");
        Setting s = new Setting(f[0], f[1], f[2], f[3], d(f[4]), d(f[5]), f[6], d(f[7]), d(f[8]), d(f[9]));
        Row row = new Row(Integer.parseInt(f[10]), d(f[11]), d(f[12]), d(f[13]), d(f[14]), Integer.parseInt(f[15]),
            Integer.parseInt(f[16]), d(f[17]), d(f[18]), d(f[19]));
        cases.computeIfAbsent(s, k -> new ArrayList<>()).add(row);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return cases;
  }

  private static double d(String text) {
    return switch (text) {
      case "nan" -> Double.NaN;
      case "inf" -> Double.POSITIVE_INFINITY;
      case "-inf" -> Double.NEGATIVE_INFINITY;
      default -> Double.parseDouble(text);
    };
  }
}
