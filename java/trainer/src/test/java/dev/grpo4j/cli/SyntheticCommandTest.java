package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import dev.grpo4j.synthetic.SyntheticMethod;
import dev.grpo4j.synthetic.SyntheticReport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code grpo4j experiment synthetic} end to end with a short budget. */
class SyntheticCommandTest {

  @Test
  void shortRunWritesCurvesSummaryAndFigures(@TempDir Path tmp) throws IOException {
    Path dir = tmp.resolve("synthetic");
    CliRun run = CliRun.of("experiment", "synthetic", "--setting", "uneven-balanced", "--seeds", "2",
        "--iterations", "40", "--log-every", "10", "--threads", "2", "--out", dir.toString());
    assertEquals(0, run.exitCode(), run.err());
    for (SyntheticMethod m : SyntheticMethod.values()) {
      assertTrue(run.out().contains("| " + m.label() + " |"), m.label() + " in\n" + run.out());
    }
    assertTrue(run.err().contains("lr 5.0, beta 2.0, eta 0.01"), "the setting's defaults:\n" + run.err());

    List<String> summaryLines = Files.readAllLines(dir.resolve("summary.csv"));
    assertEquals(String.join(",", SyntheticReport.SUMMARY_COLUMNS), summaryLines.getFirst());
    List<Map<String, String>> summary = read(dir.resolve("summary.csv"));
    assertEquals(SyntheticMethod.values().stream().map(SyntheticMethod::label).toList(),
        summary.stream().map(r -> r.get("method")).toList());
    for (Map<String, String> row : summary) {
      for (String column : SyntheticReport.SUMMARY_COLUMNS.subList(1, 5)) {
        assertTrue(Double.isFinite(Double.parseDouble(row.get(column))), column + " of " + row);
      }
    }

    List<Map<String, String>> curves = read(dir.resolve("curves.csv"));
    assertEquals(7 * 2 * 5, curves.size(), "7 methods x 2 seeds x iterations 0, 10, 20, 30, 40");
    List<String> iterations = new ArrayList<>();
    for (Map<String, String> row : curves) {
      if (row.get("method").equals("GR-DPO") && row.get("seed").equals("2022")) {
        iterations.add(row.get("iteration"));
        double w0 = Double.parseDouble(row.get("weight_g0"));
        double w1 = Double.parseDouble(row.get("weight_g1"));
        assertEquals(1.0, w0 + w1, 1e-5);
        double worst = Math.max(Double.parseDouble(row.get("val_loss_g0")), Double.parseDouble(row.get("val_loss_g1")));
        assertEquals(worst, Double.parseDouble(row.get("worst_val_loss")), 1e-6);
      }
    }
    assertEquals(List.of("0", "10", "20", "30", "40"), iterations);
    // The summary is the final iteration's mean over seeds.
    double mean = curves.stream().filter(r -> r.get("method").equals("DPO") && r.get("iteration").equals("40"))
        .mapToDouble(r -> Double.parseDouble(r.get("worst_val_loss"))).average().orElseThrow();
    assertEquals(mean, Double.parseDouble(summary.getFirst().get("worst_val_loss_mean")), 1e-6);

    for (String png : List.of("worst_val_loss.png", "max_reward_err.png", "group_weights.png")) {
      byte[] head = Arrays.copyOf(Files.readAllBytes(dir.resolve(png)), 8);
      assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, head, png);
    }
    assertTrue(Files.readString(dir.resolve("summary.md")).contains("uneven-balanced"));
  }

  @Test
  void optionsOverrideTheSettingAndBadValuesExitWithTwo(@TempDir Path tmp) {
    CliRun run = CliRun.of("experiment", "synthetic", "--setting", "even-imbalanced", "--seeds", "1",
        "--iterations", "5", "--learning-rate", "0.1", "--beta", "0.5", "--eta", "0.2", "--methods", "GR-IPO,dpo",
        "--feature-type", "flipped", "--is-weighting", "per-pair", "--threads", "1", "--out",
        tmp.resolve("o").toString());
    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.err().contains("lr 0.1, beta 0.5, eta 0.2, 5 iterations, flipped features, IS per-pair"),
        run.err());
    assertTrue(run.out().contains("| GR-IPO |") && run.out().contains("| DPO |") && !run.out().contains("| IPO |"),
        run.out());

    assertEquals(2, CliRun.of("experiment", "synthetic", "--setting", "sideways").exitCode());
    assertEquals(2, CliRun.of("experiment", "synthetic", "--methods", "PPO").exitCode());
    assertEquals(2, CliRun.of("experiment", "synthetic", "--seeds", "0").exitCode());
    assertEquals(2, CliRun.of("experiment", "synthetic", "--beta", "-1").exitCode());
    CliRun missing = CliRun.of("experiment");
    assertEquals(2, missing.exitCode());
    assertTrue(missing.err().contains("synthetic"), missing.err());
  }

  private static List<Map<String, String>> read(Path csv) throws IOException {
    CsvMapper mapper = new CsvMapper();
    try (MappingIterator<Map<String, String>> it = mapper.readerForMapOf(String.class)
        .with(CsvSchema.emptySchema().withHeader()).readValues(csv.toFile())) {
      return it.readAll();
    }
  }
}
