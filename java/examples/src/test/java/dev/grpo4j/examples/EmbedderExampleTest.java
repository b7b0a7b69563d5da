package dev.grpo4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedder example: a run interrupted by a checkpoint ends with the same weights as one that was not, and the
 * program runs as an embedder runs it, as a named module next to the named module dev.grpo4j.core on the module
 * path, with native access granted to that module only.
 */
class EmbedderExampleTest {
  @Test
  void aRunThroughTheCheckpointEndsWhereAnUninterruptedOneDoes(@TempDir Path dir) throws IOException {
    Path checkpoint = dir.resolve("weights.txt");
    String resumed = EmbedderExample.run(checkpoint, true);
    assertTrue(resumed.startsWith("final robust weights ["), resumed);
    assertEquals(EmbedderExample.GROUPS + 1, Files.readAllLines(checkpoint).size(), "K log-weights and the steps");
    assertEquals(EmbedderExample.run(dir.resolve("unused.txt"), false), resumed);
  }

  @Test
  void runsOnTheModulePath(@TempDir Path dir) throws IOException, InterruptedException {
    // dev.grpo4j.core is a jar after `package` (verify, install), or core's classes folder in a reactor's `test`.
    String modulePath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
        .filter(entry -> entry.endsWith(Path.of("examples", "target", "classes").toString())
            || entry.endsWith(Path.of("core", "target", "classes").toString())
            || Path.of(entry).getFileName().toString().matches("grpo4j-core-.*\\.jar"))
        .collect(Collectors.joining(File.pathSeparator));
    assertEquals(2, modulePath.split(File.pathSeparator).length, modulePath);
    Process java = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--module-path", modulePath, "--enable-native-access=dev.grpo4j.core",
        "-m", "dev.grpo4j.examples/dev.grpo4j.examples.EmbedderExample", dir.resolve("weights.txt").toString())
        .redirectErrorStream(true).start();
    String output = new String(java.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(java.waitFor(2, TimeUnit.MINUTES), "the example did not finish:\n" + output);
    assertEquals(0, java.exitValue(), output);
    assertTrue(output.contains("step 20") && output.contains("final robust weights ["), output);
    assertFalse(output.contains("WARNING"), "native access granted by module name, nothing else needed:\n" + output);
  }
}
