package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A bad option value or an unknown option gets one line that names the option, the value and what is accepted,
 * then a pointer to the command's help: never the whole usage, in every command.
 */
class BadCommandLineTest {
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "train --beta abc                        | --beta           | 'abc' is not a double",
      "train --method grpo                     | --method         | grpo",
      "train --schedule exponential            | --schedule       | expected one of [CONSTANT, LINEAR, COSINE]",
      "train --weighting heavy                 | --weighting      | use average, importance or robust",
      "train --f-divergence kl                 | --f-divergence   | reverse_kl, forward_kl",
      "train --steps 99999999999               | --steps          | '99999999999' is not an int",
      "train --no-such-option                  | --no-such-option | Unknown option",
      "eval --batch-size two                   | --batch-size     | 'two' is not an int",
      "demo --seed x                           | --seed           | 'x' is not a long",
      "score --threads x                       | --threads        | 'x' is not an int",
      "merge-adapter --save-dtype              | --save-dtype     | Missing required parameter",
      "convert-survey --input in --out o --bogus | --bogus        | Unknown option",
      "experiment synthetic --seeds many       | --seeds          | 'many' is not an int"})
  void oneLineNamesTheOptionThenPointsToTheHelp(String commandLine, String option, String expected) {
    String[] args = commandLine.trim().split("\\s+");
    CliRun run = CliRun.of(args);
    String command = "grpo4j " + commandLine.substring(0, commandLine.indexOf(" --")).trim();
    List<String> lines = run.err().lines().toList();
    assertEquals(2, run.exitCode(), run.err());
    assertFalse(run.err().contains("Usage:"), run.err());
    assertTrue(lines.size() <= 3, "at most the error, a suggestion and the pointer:\n" + run.err());
    assertTrue(lines.getFirst().startsWith(command + ": error: "), run.err());
    assertTrue(lines.getFirst().contains(option) && lines.getFirst().contains(expected), run.err());
    assertEquals("see " + command + " --help", lines.getLast(), run.err());
  }
}
