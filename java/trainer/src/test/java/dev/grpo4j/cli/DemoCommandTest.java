package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code grpo4j demo} end to end with a short budget, and the top command's own options. */
class DemoCommandTest {
  private static final int STEPS = 12;


  @Test
  void shortDemoWritesReportAndMetricsAndPrintsEveryGroup(@TempDir Path tmp) throws IOException {
    Path dir = tmp.resolve("demo");
    CliRun run = CliRun.of("demo", "--out", dir.toString(), "--steps", Integer.toString(STEPS), "--sft-steps", "5",
        "--seed", "5");
    assertEquals(0, run.exitCode(), run.err());

    for (int g = 0; g < DemoData.GROUP_SHARES.size(); g++) {
      assertTrue(Pattern.compile("(?m)^\\| g" + g + " .*\\|$").matcher(run.out()).find(),
          "a table row for group g" + g + " in\n" + run.out());
    }
    for (String row : List.of("worst group", "mean over groups", "loss imbalance")) {
      assertTrue(run.out().contains(row), row + " in\n" + run.out());
    }
    for (String column : List.of("DPO loss", "GR-DPO loss", "DPO acc", "GR-DPO acc", "GR-DPO weight")) {
      assertTrue(run.out().contains(column), column + " in\n" + run.out());
    }
    assertTrue(run.err().contains("GR-DPO  step   " + STEPS + "/" + STEPS), "a progress line per method:\n" + run.err());

    String report = Files.readString(dir.resolve("report.md"));
    String table = run.out().lines().filter(line -> line.startsWith("|")).reduce("", (a, b) -> a + b + "\n");
    assertTrue(report.contains(table), "report.md holds the printed table");

    List<String> lines = Files.readAllLines(dir.resolve("metrics.jsonl"));
    assertEquals(2 * STEPS, lines.size(), "one line per step and method");
    ObjectMapper json = new ObjectMapper();
    JsonNode first = json.readTree(lines.getFirst());
    assertEquals(1, first.get("step").asInt());
    assertEquals("DPO", first.get("method").asText());
    assertTrue(first.get("loss").isNumber());
    assertEquals(4, first.get("group_losses").size());
    assertEquals(4, first.get("group_weights").size());
    JsonNode last = json.readTree(lines.getLast());
    assertEquals(STEPS, last.get("step").asInt());
    assertEquals("GR-DPO", last.get("method").asText());
    double weightSum = 0;
    for (JsonNode w : last.get("group_weights")) {
      weightSum += w.asDouble();
    }
    assertEquals(1.0, weightSum, 1e-5, "GR-DPO's weights stay on the simplex");
  }

  @Test
  void versionAndHelp() {
    CliRun version = CliRun.of("--version");
    assertEquals(0, version.exitCode());
    assertTrue(version.out().startsWith("grpo4j 0."), version.out());

    CliRun help = CliRun.of("--help");
    assertEquals(0, help.exitCode());
    assertTrue(help.out().contains("demo"), help.out());
    assertTrue(help.out().contains("Group Robust Preference Optimization"), help.out());

    CliRun demoHelp = CliRun.of("demo", "--help");
    assertEquals(0, demoHelp.exitCode());
    for (String option : List.of("--out", "--seed", "--steps", "--sft-steps", "--threads")) {
      assertTrue(demoHelp.out().contains(option), option + " in\n" + demoHelp.out());
    }
  }

  @Test
  void usageErrorsExitWithTwo() {
    CliRun none = CliRun.of();
    assertEquals(2, none.exitCode());
    assertTrue(none.err().contains("Missing command"), none.err());

    CliRun badSteps = CliRun.of("demo", "--steps", "0");
    assertEquals(2, badSteps.exitCode());
    assertTrue(badSteps.err().contains("--steps"), badSteps.err());
  }
}
