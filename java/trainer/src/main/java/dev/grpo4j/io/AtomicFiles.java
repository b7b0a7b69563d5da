package dev.grpo4j.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.UUID;
import java.util.regex.Pattern;

/** Whole-file writes that readers see either not at all or complete. */
public final class AtomicFiles {
  /** Fills the stream of a fresh file. */
  @FunctionalInterface
  public interface Content {
    void writeTo(OutputStream out) throws IOException;
  }

  private static final Pattern STAGING = Pattern.compile("\\..+\\.tmp-[0-9a-f-]{36}");

  private AtomicFiles() {}

  /** Whether {@code name} is a hidden sibling that {@link #write} writes into (a crash may leave one behind). */
  public static boolean isStaging(String name) {
    return STAGING.matcher(name).matches();
  }

  /**
   * Writes {@code content} into a hidden sibling of {@code file} and renames it over {@code file}: a crash or an
   * exception leaves the previous {@code file} as it was.
   */
  public static void write(Path file, Content content) throws IOException {
    Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp-" + UUID.randomUUID());
    try {
      try (OutputStream out = Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        content.writeTo(out);
      }
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
