package dev.grpo4j.ffm;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * Loads libgrpo4j once per JVM: from the path in system property {@code grpo4j.library.path} if set,
 * otherwise extracted from this jar into a private temporary folder.
 */
final class NativeLibrary {
  static final String PATH_PROPERTY = "grpo4j.library.path";
  private static final String LIBRARY_FILE = "libgrpo4j.so";

  private NativeLibrary() {}

  static SymbolLookup load() {
    String override = System.getProperty(PATH_PROPERTY);
    Path path = override != null ? Path.of(override) : extract();
    if (!Files.isReadable(path)) {
      throw new IllegalStateException(
          "grpo4j native library not readable at " + path + " (set -D" + PATH_PROPERTY + " to a built libgrpo4j.so)");
    }
    return SymbolLookup.libraryLookup(path, Arena.global());
  }

  static String platform() {
    String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
    String osName = os.contains("linux") ? "linux" : os.replace(' ', '_');
    String archName = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64" : arch;
    return osName + "-" + archName;
  }

  private static Path extract() {
    String resource = "/dev/grpo4j/native/" + platform() + "/" + LIBRARY_FILE;
    try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("grpo4j has no native library for platform " + platform()
            + " (looked for resource " + resource + "); build grpo4j on this platform or set -D" + PATH_PROPERTY);
      }
      Path dir = Files.createTempDirectory("grpo4j-native");
      Path target = dir.resolve(LIBRARY_FILE);
      Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
      // The mapping stays valid after the file is unlinked; deleting at exit keeps /tmp clean.
      target.toFile().deleteOnExit();
      dir.toFile().deleteOnExit();
      return target;
    } catch (IOException e) {
      throw new UncheckedIOException("could not extract the grpo4j native library", e);
    }
  }
}
