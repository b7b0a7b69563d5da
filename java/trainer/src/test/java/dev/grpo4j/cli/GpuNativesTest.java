package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.platform.LibTorch;
import dev.grpo4j.platform.StubLibraries;
import dev.grpo4j.train.ModelSource;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GPU build's class path: a bytedeco pytorch {@code linux-x86_64-gpu} jar beside the CPU one. Here the GPU jar is
 * a stand-in whose {@code libtorch_cpu.so} ends the process when loaded, so each test sees which set was loaded.
 * JavaCPP alone loads parts of both sets and the JVM dies; {@link LibTorch} must load exactly one.
 */
class GpuNativesTest {
  private static final Duration TIMEOUT = Duration.ofMinutes(2);

  @TempDir
  Path dir;

  private Path jar;

  @AfterEach
  void removeTheStandInFromTheCache() throws IOException {
    if (jar == null) {
      return;
    }
    Path unpacked = Loader.getCacheDir().toPath().resolve(jar.getFileName().toString());
    if (Files.exists(unpacked)) {
      try (Stream<Path> files = Files.walk(unpacked)) {
        for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(file);
        }
      }
    }
  }

  @Test
  void withoutCudaLibrariesTheCpuNativesRunAndDeviceCudaSaysWhatIsMissing() throws IOException {
    Path absent = StubLibraries.build(dir.resolve("absent"), "libgrpo4j_test_cublas.so.13", false, List.of(),
        List.of());
    jar = gpuJar(StubLibraries.build(dir.resolve("gpu"), "libtorch_cpu.so", true, List.of(absent), List.of()));
    Files.delete(absent);
    try (ChildJvm child = ChildJvm.start(dir, "fallback", Map.of(), List.of(), List.of(jar),
        CudaPlacement.class.getName())) {
      int exit = child.waitFor(TIMEOUT);
      assertFalse(child.output().contains(StubLibraries.LOADED_MESSAGE), child.output());
      assertEquals(0, exit, child.output());
      assertTrue(child.stdout().contains("sum 3.0"), child.output());
      assertTrue(child.stdout().contains("refused: --device cuda: bytedeco's GPU libtorch"), child.output());
      assertTrue(child.stdout().contains("cannot find libgrpo4j_test_cublas.so.13"), child.output());
      assertTrue(child.stdout().contains("runs the CPU libtorch instead; or use --device cpu"), child.output());
    }
  }

  @Test
  void gpuNativesThatCanLoadAreChosenUnlessTheCpuOnesAreAskedFor() throws IOException {
    jar = gpuJar(StubLibraries.build(dir.resolve("gpu"), "libtorch_cpu.so", true, List.of(), List.of()));
    try (ChildJvm child = ChildJvm.start(dir, "gpu", Map.of(), List.of(), List.of(jar),
        CudaPlacement.class.getName())) {
      assertEquals(StubLibraries.EXIT_ON_LOAD, child.waitFor(TIMEOUT), child.output());
    }
    try (ChildJvm child = ChildJvm.start(dir, "cpu", Map.of(), List.of("-D" + LibTorch.EXTENSION_PROPERTY + "="),
        List.of(jar), CudaPlacement.class.getName())) {
      assertEquals(0, child.waitFor(TIMEOUT), child.output());
      assertTrue(child.stdout().contains("chose the CPU libtorch although the GPU one is on the class path"),
          child.output());
    }
  }

  @Test
  void cudaLibrariesFromARedistJarCountAsFound() throws IOException {
    Path cublas = StubLibraries.build(dir.resolve("redist"), "libgrpo4j_test_redist_cublas.so.13", false, List.of(),
        List.of());
    Path gpu = StubLibraries.build(dir.resolve("gpu"), "libtorch_cpu.so", true, List.of(cublas), List.of());
    // One jar for both, as a shaded jar holds them: the cache removal above then covers both.
    jar = jar(Map.of("org/bytedeco/pytorch/" + Loader.getPlatform() + "-gpu/", gpu,
        "org/bytedeco/cuda/" + Loader.getPlatform() + "/", cublas));
    Files.delete(cublas);
    try (ChildJvm child = ChildJvm.start(dir, "redist", Map.of(), List.of(), List.of(jar),
        CudaPlacement.class.getName())) {
      assertEquals(StubLibraries.EXIT_ON_LOAD, child.waitFor(TIMEOUT), child.output());
    }
  }

  /** A jar holding {@code library} where bytedeco's GPU natives of this platform go. */
  private Path gpuJar(Path library) throws IOException {
    return jar(Map.of("org/bytedeco/pytorch/" + Loader.getPlatform() + "-gpu/", library));
  }

  /** A jar with a uniquely named file, holding each library in the folder its key names. */
  private Path jar(Map<String, Path> librariesByFolder) throws IOException {
    Path file = dir.resolve("grpo4j-test-gpu-natives-" + ProcessHandle.current().pid() + "-" + System.nanoTime()
        + ".jar");
    Set<String> folders = new TreeSet<>();
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(file))) {
      for (Map.Entry<String, Path> entry : librariesByFolder.entrySet()) {
        String folder = entry.getKey();
        // Explicit folder entries: the class loader finds a folder resource only through them.
        int slash = -1;
        while ((slash = folder.indexOf('/', slash + 1)) >= 0) {
          if (folders.add(folder.substring(0, slash + 1))) {
            out.putNextEntry(new JarEntry(folder.substring(0, slash + 1)));
            out.closeEntry();
          }
        }
        out.putNextEntry(new JarEntry(folder + entry.getValue().getFileName()));
        Files.copy(entry.getValue(), (OutputStream) out);
        out.closeEntry();
      }
    }
    return file;
  }

  /** Loads libtorch as the commands do, uses it, then asks for {@code --device cuda}. */
  static final class CudaPlacement {
    static {
      LibTorch.load();
    }

    public static void main(String[] args) {
      System.out.println("sum " + torch.ones(3).sum().item_double());
      try {
        ModelSource.placement("cuda", null, null);
        System.out.println("cuda accepted");
      } catch (IllegalArgumentException e) {
        System.out.println("refused: " + e.getMessage());
      }
    }
  }
}
