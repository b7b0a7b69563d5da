package dev.grpo4j.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Writes a folder so that readers see either the old complete folder or the new complete one, never a half-written
 * one: the content goes into a hidden sibling, which is renamed into place once complete. A crash or an exception
 * while writing leaves the target as it was (the hidden sibling is removed on exceptions).
 */
public final class AtomicDirectory {
  /** Fills a fresh, empty folder. */
  @FunctionalInterface
  public interface Writer {
    void write(Path folder) throws IOException;
  }

  /** The hidden siblings {@link #write} creates: {@code .NAME.partial-TAG} and {@code .NAME.previous-TAG}. */
  private static final Pattern LEFTOVER = Pattern.compile("\\.(.+)\\.(partial|previous)-[0-9a-f]{8}");

  private AtomicDirectory() {}

  /** Whether {@code name} is one of the hidden siblings {@link #write} creates (a crash may leave one behind). */
  public static boolean isStaging(String name) {
    return LEFTOVER.matcher(name).matches();
  }

  /**
   * Writes {@code target} with {@code writer}, replacing an existing {@code target} only after the new content is
   * complete.
   */
  public static void write(Path target, Writer writer) {
    Path absolute = target.toAbsolutePath().normalize();
    Path parent = absolute.getParent();
    String name = absolute.getFileName().toString();
    String tag = UUID.randomUUID().toString().substring(0, 8);
    Path staging = parent.resolve("." + name + ".partial-" + tag);
    Path previous = parent.resolve("." + name + ".previous-" + tag);
    try {
      Files.createDirectories(parent);
      Files.createDirectory(staging);
      writer.write(staging);
      boolean replacing = Files.exists(absolute);
      if (replacing) {
        Files.move(absolute, previous, StandardCopyOption.ATOMIC_MOVE);
      }
      try {
        Files.move(staging, absolute, StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException e) {
        if (replacing) {
          Files.move(previous, absolute, StandardCopyOption.ATOMIC_MOVE);
        }
        throw e;
      }
      if (replacing) {
        deleteRecursively(previous);
      }
    } catch (IOException e) {
      deleteQuietly(staging);
      throw new UncheckedIOException("could not write " + absolute + ": " + e.getMessage(), e);
    } catch (RuntimeException | Error e) {
      deleteQuietly(staging);
      throw e;
    }
  }

  /**
   * Tidies what interrupted {@link #write}s left in {@code parent}: hidden staging folders are deleted, and a
   * hidden previous version whose replacement never arrived is moved back into place (a crash between the two
   * renames), otherwise deleted.
   *
   * @return the names of the entries that were deleted or moved back
   */
  public static List<String> recover(Path parent) throws IOException {
    List<String> tidied = new ArrayList<>();
    if (!Files.isDirectory(parent)) {
      return tidied;
    }
    List<Path> leftovers;
    try (Stream<Path> children = Files.list(parent)) {
      leftovers = children.filter(p -> LEFTOVER.matcher(p.getFileName().toString()).matches()).sorted().toList();
    }
    for (Path leftover : leftovers) {
      Matcher m = LEFTOVER.matcher(leftover.getFileName().toString());
      m.matches();
      Path target = parent.resolve(m.group(1));
      if (m.group(2).equals("previous") && !Files.exists(target)) {
        Files.move(leftover, target, StandardCopyOption.ATOMIC_MOVE);
      } else {
        deleteRecursively(leftover);
      }
      tidied.add(leftover.getFileName().toString());
    }
    return tidied;
  }

  /** Deletes {@code path} and everything under it; a missing path is fine. */
  public static void deleteRecursively(Path path) throws IOException {
    if (!Files.exists(path)) {
      return;
    }
    Files.walkFileTree(path, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.delete(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
        if (exc != null) {
          throw exc;
        }
        Files.delete(dir);
        return FileVisitResult.CONTINUE;
      }
    });
  }

  private static void deleteQuietly(Path path) {
    try {
      deleteRecursively(path);
    } catch (IOException ignored) {
      // The original failure is the one worth reporting; a leftover hidden folder is harmless.
    }
  }
}
