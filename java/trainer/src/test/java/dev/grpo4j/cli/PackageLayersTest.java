package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The trainer's packages import only the rooms below them, as README's Layout section lists them: a class that
 * reaches up (the text package into the loss, the platform into the engine) fails here with its file and import.
 */
class PackageLayersTest {
  /** Each package and the grpo4j packages it may import ({@code core}: grpo4j-core's {@code dev.grpo4j}). */
  private static final Map<String, Set<String>> MAY_IMPORT = Map.ofEntries(
      Map.entry("platform", Set.of()),
      Map.entry("io", Set.of()),
      Map.entry("data", Set.of()),
      Map.entry("chat", Set.of()),
      Map.entry("safetensors", Set.of("platform")),
      Map.entry("text", Set.of("chat", "data")),
      Map.entry("torch", Set.of("core", "platform", "text")),
      Map.entry("model", Set.of("io", "platform", "safetensors", "text", "torch")),
      Map.entry("dist", Set.of("platform")),
      Map.entry("report", Set.of("io")),
      Map.entry("survey", Set.of("data", "io")),
      Map.entry("train", Set.of("core", "platform", "io", "data", "chat", "safetensors", "text", "torch", "model",
          "dist", "report")),
      Map.entry("synthetic", Set.of("core", "report", "train")),
      Map.entry("cli", Set.of("core", "platform", "io", "data", "chat", "safetensors", "text", "torch", "model",
          "dist", "report", "survey", "train", "synthetic")));
  private static final Pattern IMPORT = Pattern.compile("^import (?:static )?dev\\.grpo4j\\.(?:([a-z]+)\\.)?[A-Z]",
      Pattern.MULTILINE);
  private static final Path SOURCES = Path.of("src/main/java/dev/grpo4j");

  @Test
  void everyPackageImportsOnlyTheRoomsBelowIt() throws IOException {
    assertTrue(Files.isDirectory(SOURCES), SOURCES.toAbsolutePath() + " (run from the trainer module)");
    Set<String> packages = new TreeSet<>();
    List<String> violations = new ArrayList<>();
    try (Stream<Path> dirs = Files.list(SOURCES)) {
      for (Path dir : dirs.filter(Files::isDirectory).sorted().toList()) {
        String pkg = dir.getFileName().toString();
        packages.add(pkg);
        Set<String> allowed = MAY_IMPORT.getOrDefault(pkg, Set.of());
        try (Stream<Path> files = Files.list(dir)) {
          for (Path file : files.filter(f -> f.toString().endsWith(".java")).sorted().toList()) {
            Matcher m = IMPORT.matcher(Files.readString(file));
            while (m.find()) {
              String target = m.group(1) == null ? "core" : m.group(1);
              if (!target.equals(pkg) && !allowed.contains(target)) {
                violations.add(SOURCES.relativize(file) + " imports dev.grpo4j." + (m.group(1) == null ? ""
                    : target + "."));
              }
            }
          }
        }
      }
    }
    assertEquals(new TreeSet<>(MAY_IMPORT.keySet()), packages, "a package without a room here: give it one, "
        + "and a line in README's Layout section");
    assertEquals(List.of(), violations);
  }
}
