package dev.grpo4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * The check before a command writes a whole output folder in place of whatever is at {@code --out}: nothing that is
 * not the command's own output may be lost. A file is refused; a non-empty folder needs {@code --overwrite}, and even
 * then it may hold only entries the command itself writes.
 */
final class OutputFolder {
  private static final int NAMES_SHOWN = 20;

  private OutputFolder() {}

  /**
   * @param out the {@code --out} folder
   * @param overwrite whether {@code --overwrite} was given
   * @param ownEntry which names in the folder the command writes (and so may replace)
   * @param owner the command that writes those entries, e.g. "convert-survey"
   * @param earlierOutput what an earlier output of it is called, e.g. "an earlier conversion"
   */
  static void requireReplaceable(Path out, boolean overwrite, Predicate<String> ownEntry, String owner,
                                 String earlierOutput) throws IOException {
    if (Files.exists(out) && !Files.isDirectory(out)) {
      throw new IllegalArgumentException("--out " + out + " is a file; choose a folder");
    }
    if (!Files.isDirectory(out)) {
      return;
    }
    List<String> entries;
    try (Stream<Path> listing = Files.list(out)) {
      entries = listing.map(p -> p.getFileName().toString()).sorted().toList();
    }
    if (entries.isEmpty()) {
      return;
    }
    if (!overwrite) {
      throw new IllegalArgumentException("--out " + out + " is not empty (it holds " + shown(entries) + "); pass "
          + "--overwrite to replace " + earlierOutput + ", or choose a new or empty folder");
    }
    List<String> foreign = entries.stream().filter(ownEntry.negate()).toList();
    if (!foreign.isEmpty()) {
      throw new IllegalArgumentException("--out " + out + " holds files " + owner + " does not write ("
          + shown(foreign) + "); --overwrite replaces the whole folder, so it refuses to delete them: choose a new "
          + "or empty folder, or move them away");
    }
  }

  /**
   * Refuses to start a command's output in the existing folder {@code out} unless every entry is one the command
   * itself leaves when it stops early ({@code ownEntry}): a folder of the user's is never written into.
   *
   * @param what what a folder of the command's own is, e.g. "grpo4j run"
   */
  static void requireOwnOrEmpty(Path out, Predicate<String> ownEntry, String what) throws IOException {
    if (!Files.isDirectory(out)) {
      return;
    }
    List<String> foreign;
    try (Stream<Path> listing = Files.list(out)) {
      foreign = listing.map(p -> p.getFileName().toString()).filter(ownEntry.negate()).sorted().toList();
    }
    if (!foreign.isEmpty()) {
      throw new IllegalArgumentException("--out " + out + " is not empty and holds no " + what + " (it holds "
          + shown(foreign) + "); nothing is written into a folder of yours: choose a new or empty folder");
    }
  }

  /**
   * Refuses an {@code --out} that is, holds or lies inside an input folder ({@code option} names it): replacing it
   * would destroy the input the command reads. An input that is no folder (a built-in model's name) is ignored.
   */
  static void requireApart(Path out, String option, Path input) throws IOException {
    if (!Files.isDirectory(input)) {
      return;
    }
    Path outPath = real(out);
    Path inputPath = real(input);
    if (outPath.startsWith(inputPath) || inputPath.startsWith(outPath)) {
      throw new IllegalArgumentException("--out " + out + (outPath.equals(inputPath) ? " is " : outPath.startsWith(
          inputPath) ? " lies inside " : " holds ") + option + " " + input + ": writing there would destroy the "
          + "input; choose a folder outside it");
    }
  }

  /** The path with every existing part resolved (links followed), the rest appended as given. */
  private static Path real(Path path) throws IOException {
    Path absolute = path.toAbsolutePath().normalize();
    Path existing = absolute;
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    return existing == null ? absolute : existing.toRealPath().resolve(existing.relativize(absolute));
  }

  private static String shown(List<String> names) {
    return names.size() <= NAMES_SHOWN ? String.join(", ", names)
        : String.join(", ", names.subList(0, NAMES_SHOWN)) + ", ... (" + names.size() + " in all)";
  }
}
