package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.platform.StubLibraries;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The first run on a machine with another libtorch: an empty JavaCPP cache, and a folder on
 * {@code LD_LIBRARY_PATH} holding stand-ins with libtorch's file names whose constructors end the process with
 * {@link #STAND_IN_EXIT}. The dynamic loader searches {@code LD_LIBRARY_PATH} before a library's own folder, so
 * any dependency of the bundled libtorch that is looked up by name instead of found already loaded picks a
 * stand-in, exactly as it picked Debian's libtorch 1.13 and crashed the JVM. MKL's names are among them: its core
 * opens its per-CPU kernels by name, and an MKL installed on the machine must not be the one found.
 */
class ColdStartTest {
  private static final int STAND_IN_EXIT = StubLibraries.EXIT_ON_LOAD;
  private static final String STAND_IN_MESSAGE = StubLibraries.LOADED_MESSAGE;
  private static final List<String> STAND_IN_NAMES =
      List.of("libc10.so", "libtorch_cpu.so", "libtorch.so", "libgomp.so.1", "libopenblas.so.0", "libgfortran.so.5",
          "libmkl_core.so.2", "libmkl_gnu_thread.so.2", "libmkl_intel_lp64.so.2", "libmkl_def.so.2", "libmkl_mc3.so.2",
          "libmkl_avx2.so.2", "libmkl_avx512.so.2", "libmkl_vml_def.so.2", "libmkl_vml_avx2.so.2");
  private static final Duration TIMEOUT = Duration.ofMinutes(3);

  @TempDir
  Path dir;

  @Test
  void demoOnAColdCacheBesideAnotherLibtorchLoadsOnlyTheBundledOne() throws Exception {
    Path standIns = standInLibraries(dir.resolve("standins"));
    Path cache = Files.createDirectories(dir.resolve("javacpp-cache"));
    Map<String, String> environment = Map.of("LD_LIBRARY_PATH", standIns.toString());
    List<String> jvm = List.of("-Dorg.bytedeco.javacpp.cachedir=" + cache);

    try (ChildJvm demo = ChildJvm.grpo4j(dir, "demo", environment, jvm,
        "demo", "--steps", "2", "--sft-steps", "2", "--out", dir.resolve("run").toString())) {
      int exit = demo.waitFor(TIMEOUT);
      assertFalse(demo.output().contains(STAND_IN_MESSAGE), demo.output());
      assertEquals(0, exit, demo.output());
      assertTrue(demo.stdout().contains("worst group"), demo.output());
    }
    try (var libraries = Files.walk(cache)) {
      assertTrue(libraries.anyMatch(p -> p.getFileName().toString().equals("libtorch_cpu.so")),
          "libtorch was unpacked into the given cache");
    }

    // The same machine, now with a warm cache, touching libtorch through JavaCPP alone: the stand-ins are picked.
    // Without this the test could pass because the stand-ins were never in the loader's way.
    try (ChildJvm direct = ChildJvm.start(dir, "direct", environment, jvm, TorchThroughJavaCpp.class.getName())) {
      int exit = direct.waitFor(TIMEOUT);
      assertEquals(STAND_IN_EXIT, exit, direct.output());
      assertTrue(direct.stderr().contains(STAND_IN_MESSAGE), direct.output());
    }
  }

  /** Loads libtorch the way JavaCPP does on first touch, bypassing {@code LibTorch.load()}. */
  static final class TorchThroughJavaCpp {
    public static void main(String[] args) {
      System.out.println(torch.ones(2).sum().item_double());
    }
  }

  /** One stand-in per name, each with that soname, that ends the process when it is loaded. */
  private static Path standInLibraries(Path folder) {
    for (String name : STAND_IN_NAMES) {
      StubLibraries.build(folder, name, true, List.of(), List.of());
    }
    return folder;
  }
}
