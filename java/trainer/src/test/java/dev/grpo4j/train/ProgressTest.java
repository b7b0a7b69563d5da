package dev.grpo4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import me.tongfei.progressbar.ProgressBar;
import org.junit.jupiter.api.Test;

/** Progress in a log file: plain lines, each state once, the final one always. */
class ProgressTest {
  @Test
  void withoutATerminalTheBarIsPlainPeriodicLines() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (PrintStream err = new PrintStream(bytes, true, StandardCharsets.UTF_8);
         ProgressBar bar = Progress.bar("GR-DPO", 50, " steps", 0, Duration.ZERO, err, false, Duration.ofHours(1))) {
      for (int i = 0; i < 50; i++) {
        bar.step();
        bar.setExtraMessage(" loss 0.69");
      }
    }
    String log = bytes.toString(StandardCharsets.UTF_8);
    assertFalse(log.contains("\r"), "no carriage returns: " + log);
    assertFalse(log.contains("\u001b"), "no colour codes: " + log);
    List<String> lines = log.lines().toList();
    assertTrue(lines.size() <= 2, "the first state and the last, nothing in between within the interval: " + log);
    assertTrue(lines.getLast().contains("50/50 steps") && lines.getLast().contains("loss 0.69"), log);
    assertEquals(lines.stream().distinct().count(), lines.size(), "no line printed twice: " + log);
  }
}
