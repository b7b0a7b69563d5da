package dev.grpo4j.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Small shared libraries, compiled by the system C compiler, that stand in for libtorch's and CUDA's in tests of how
 * {@link LibTorch} finds and loads them.
 */
public final class StubLibraries {
  /** The exit status of a process that loaded a library built with {@code exitOnLoad}. */
  public static final int EXIT_ON_LOAD = 97;
  /** What such a library prints to standard error before it ends the process. */
  public static final String LOADED_MESSAGE = "grpo4j test: a stand-in library was loaded";

  private StubLibraries() {}

  /**
   * Builds {@code folder/soname} with that soname and a {@code DT_NEEDED} entry for each of {@code needed} (paths
   * of other stubs), searching {@code runpath} for them. With {@code exitOnLoad} its constructor ends the process
   * with {@link #EXIT_ON_LOAD}: a test then sees whether it was ever loaded.
   */
  public static Path build(Path folder, String soname, boolean exitOnLoad, List<Path> needed, List<Path> runpath) {
    try {
      Files.createDirectories(folder);
      Path source = folder.resolve(soname + ".c");
      Files.writeString(source, exitOnLoad ? """
          #include <unistd.h>
          __attribute__((constructor)) static void refuse(void) {
            static const char message[] = "%s\\n";
            write(2, message, sizeof message - 1);
            _exit(%d);
          }
          """.formatted(LOADED_MESSAGE, EXIT_ON_LOAD) : "int grpo4j_stub_library;\n");
      Path library = folder.resolve(soname);
      List<String> command = new ArrayList<>(List.of("cc", "-shared", "-fPIC", "-Wl,-soname," + soname,
          "-Wl,--enable-new-dtags", "-o", library.toString(), source.toString(), "-Wl,--no-as-needed"));
      for (Path folderToSearch : runpath) {
        command.add("-Wl,-rpath," + folderToSearch);
      }
      for (Path dependency : needed) {
        command.add("-L" + dependency.getParent());
        command.add("-l:" + dependency.getFileName());
      }
      Process cc = new ProcessBuilder(command).redirectErrorStream(true).start();
      String output = new String(cc.getInputStream().readAllBytes());
      assertTrue(cc.waitFor(60, TimeUnit.SECONDS), "cc did not finish");
      assertEquals(0, cc.exitValue(), "cc (needed to build the stub libraries) failed:\n" + output);
      Files.delete(source);
      return library;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while building " + soname, e);
    }
  }
}
