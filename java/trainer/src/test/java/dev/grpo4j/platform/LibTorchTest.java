package dev.grpo4j.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dependency order {@link LibTorch} loads bytedeco's libraries in, read from their ELF dynamic sections, and its
 * choice between the GPU and the CPU natives, on stub libraries whose dependencies can or cannot be found.
 */
class LibTorchTest {
  @TempDir
  Path dir;

  private static Path torchFolder;

  @BeforeAll
  static void load() throws IOException {
    LibTorch.load();
    File[] folders = Loader.cacheResources(torch.class, "/org/bytedeco/pytorch/" + Loader.getPlatform() + "/");
    torchFolder = folders[0].toPath();
  }

  @Test
  void loadingTwiceMapsOneLibtorchAndItIsTheBundledOne() throws IOException {
    LibTorch.load();
    LibTorch.load();
    assertEquals(3.0, torch.ones(3).sum().item_double());
    Path maps = Path.of("/proc/self/maps");
    Assumptions.assumeTrue(Files.isReadable(maps), "needs /proc/self/maps (Linux)");
    List<String> mapped = Files.readAllLines(maps).stream()
        .filter(line -> line.endsWith("/libtorch_cpu.so") || line.contains("/libtorch_cpu.so."))
        .map(line -> line.substring(line.indexOf('/'))).distinct().toList();
    assertEquals(1, mapped.size(), "one libtorch_cpu in the process: " + mapped);
    assertEquals(torchFolder.resolve("libtorch_cpu.so").toRealPath(), Path.of(mapped.getFirst()).toRealPath(),
        "the bundled libtorch, not a system one");
  }

  @Test
  void readsSonameAndNeededLibrariesOfLibtorchCpu() throws IOException {
    ElfDependencies elf = ElfDependencies.read(torchFolder.resolve("libtorch_cpu.so")).orElseThrow();
    assertEquals(Optional.of("libtorch_cpu.so"), elf.soname());
    assertTrue(elf.needed().containsAll(List.of("libc10.so", "libgomp.so.1", "libopenblas.so.0")), elf.needed()
        .toString());
    assertEquals(List.of("libtorch_cpu.so"),
        ElfDependencies.read(torchFolder.resolve("libtorch.so")).orElseThrow().needed());
  }

  @Test
  void ordersTheBundledLibrariesDependenciesFirst() throws IOException {
    List<Path> libraries;
    try (Stream<Path> files = Files.list(torchFolder)) {
      // Reverse name order: the worst start, libtorch.so ahead of its dependency.
      libraries = files.filter(p -> p.getFileName().toString().matches("lib(c10|torch|torch_cpu|gomp)\\.so.*"))
          .filter(p -> !Files.isSymbolicLink(p))
          .sorted(Comparator.reverseOrder()).toList();
    }
    List<String> order = LibTorch.dependenciesFirst(libraries).stream().map(p -> p.getFileName().toString()).toList();
    assertEquals(4, order.size(), order.toString());
    assertTrue(order.indexOf("libc10.so") < order.indexOf("libtorch_cpu.so"), order.toString());
    assertTrue(order.indexOf("libgomp.so.1") < order.indexOf("libtorch_cpu.so"), order.toString());
    assertTrue(order.indexOf("libtorch_cpu.so") < order.indexOf("libtorch.so"), order.toString());
  }

  @Test
  void filesThatAreNotElfLibrariesAreSkipped() throws IOException {
    Path header = Files.writeString(dir.resolve("jnijavacpp.cpp"), "// a source file shipped beside the libraries\n".repeat(4));
    assertEquals(Optional.empty(), ElfDependencies.read(header));
    assertEquals(List.of(), LibTorch.dependenciesFirst(List.of(header)));
  }

  @Test
  void aTruncatedLibraryIsAnErrorNamingTheFile() throws IOException {
    byte[] start = Files.readAllBytes(torchFolder.resolve("libtorch.so"));
    Path truncated = Files.write(dir.resolve("libtruncated.so"), Arrays.copyOf(start, 256));
    IOException e = assertThrows(IOException.class, () -> ElfDependencies.read(truncated));
    assertTrue(e.getMessage().contains(truncated.toString()), e.getMessage());
  }

  @Test
  void readsTheRunPathOfALibrary() throws IOException {
    Path dependency = StubLibraries.build(dir.resolve("deps"), "libgrpo4j_test_dep.so.1", false, List.of(), List.of());
    Path library = StubLibraries.build(dir.resolve("lib"), "libgrpo4j_test_user.so", false, List.of(dependency),
        List.of(dir.resolve("deps"), Path.of("/opt/elsewhere")));
    ElfDependencies elf = ElfDependencies.read(library).orElseThrow();
    assertEquals(List.of(dir.resolve("deps").toString(), "/opt/elsewhere"), elf.runpath());
    assertTrue(elf.needed().contains("libgrpo4j_test_dep.so.1"), elf.needed().toString());
  }

  @Test
  void gpuNativesWhoseCudaLibrariesAreMissingGiveWayToTheCpuOnesAndSayWhy() {
    Path gpu = gpuNativesNeeding("libgrpo4j_test_cudart.so.13");
    LibTorch.Natives natives = LibTorch.choose(List.of(), Optional.of(List.of(gpu)), Optional.of(List.of(cpu())), null,
        LibTorch::loadSystemLibrary);
    assertEquals("", natives.extension());
    assertEquals(List.of(cpu()), natives.libraries());
    assertTrue(natives.cudaUnavailable().contains("libgrpo4j_test_cudart.so.13"), natives.cudaUnavailable());
    assertTrue(natives.cudaUnavailable().contains("LD_LIBRARY_PATH"), natives.cudaUnavailable());
    assertTrue(natives.cudaUnavailable().contains("runs the CPU libtorch instead"), natives.cudaUnavailable());
  }

  @Test
  void gpuNativesWhoseLibrariesAreAllFoundAreChosen() {
    // A soname of its own: once loaded, a library is found by soname, and the other tests need theirs unfound.
    Path cudart = StubLibraries.build(dir.resolve("cuda"), "libgrpo4j_test_found.so.13", false, List.of(), List.of());
    // Found through the run path alone: neither LD_LIBRARY_PATH nor the ldconfig cache knows the folder.
    Path gpu = StubLibraries.build(dir.resolve("gpu"), "libtorch_cpu.so", false, List.of(cudart),
        List.of(dir.resolve("cuda")));
    Path common = StubLibraries.build(dir.resolve("openblas"), "libopenblas.so.0", false, List.of(), List.of());
    Path gpuNeedingCommon = StubLibraries.build(dir.resolve("gpu"), "libc10.so", false, List.of(common), List.of());
    LibTorch.Natives natives = LibTorch.choose(List.of(common), Optional.of(List.of(gpu, gpuNeedingCommon)),
        Optional.of(List.of(cpu())), null, LibTorch::loadSystemLibrary);
    assertEquals(LibTorch.GPU_EXTENSION, natives.extension());
    assertEquals(List.of(common, gpu, gpuNeedingCommon), natives.libraries());
    assertEquals(null, natives.cudaUnavailable());
  }

  @Test
  void cudaLibrariesInAPythonsWheelsAreFoundThere() {
    // Neither the run path, LD_LIBRARY_PATH nor the ldconfig cache knows the folder: only the wheel folders do.
    Path wheelLib = dir.resolve("venv/lib/python3.12/site-packages/nvidia/cuda_runtime/lib");
    Path cudart = StubLibraries.build(wheelLib, "libgrpo4j_test_wheel.so.13", false, List.of(), List.of());
    Path gpu = StubLibraries.build(dir.resolve("gpu"), "libtorch_cpu.so", false, List.of(cudart), List.of());
    List<String> wheels = CudaWheels.folders(Map.of("VIRTUAL_ENV", dir.resolve("venv").toString()), dir, dir);
    assertEquals(List.of(wheelLib.toString()), wheels);
    LibTorch.Natives natives = LibTorch.choose(List.of(), Optional.of(List.of(gpu)), Optional.of(List.of(cpu())),
        null, (soname, folders) -> LibTorch.loadSystemLibrary(soname,
            Stream.concat(folders.stream(), wheels.stream()).toList()));
    assertEquals(LibTorch.GPU_EXTENSION, natives.extension());
  }

  @Test
  void askingForTheGpuNativesWhenTheyCannotLoadIsAnErrorNamingWhatIsMissing() {
    Path gpu = gpuNativesNeeding("libgrpo4j_test_cudnn.so.9");
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> LibTorch.choose(List.of(),
        Optional.of(List.of(gpu)), Optional.of(List.of(cpu())), "-gpu", LibTorch::loadSystemLibrary));
    assertTrue(e.getMessage().contains("libgrpo4j_test_cudnn.so.9"), e.getMessage());
    assertTrue(e.getMessage().contains("drop -D" + LibTorch.EXTENSION_PROPERTY + "=-gpu"), e.getMessage());

    IllegalStateException gpuOnly = assertThrows(IllegalStateException.class, () -> LibTorch.choose(List.of(),
        Optional.of(List.of(gpu)), Optional.empty(), null, LibTorch::loadSystemLibrary));
    assertTrue(gpuOnly.getMessage().contains("libgrpo4j_test_cudnn.so.9"), gpuOnly.getMessage());

    IllegalStateException noGpu = assertThrows(IllegalStateException.class, () -> LibTorch.choose(List.of(),
        Optional.empty(), Optional.of(List.of(cpu())), "-gpu", (name, folders) -> true));
    assertTrue(noGpu.getMessage().contains("./mvnw -Pgpu"), noGpu.getMessage());
  }

  @Test
  void theCpuNativesAreChosenWhenAskedForOrAlone() {
    Path gpu = StubLibraries.build(dir.resolve("gpu"), "libtorch_cpu.so", false, List.of(), List.of());
    LibTorch.Natives asked = LibTorch.choose(List.of(), Optional.of(List.of(gpu)), Optional.of(List.of(cpu())), "",
        (name, folders) -> true);
    assertEquals("", asked.extension());
    assertEquals(List.of(cpu()), asked.libraries());
    assertTrue(asked.cudaUnavailable().contains("chose the CPU libtorch"), asked.cudaUnavailable());

    LibTorch.Natives alone = LibTorch.choose(List.of(), Optional.empty(), Optional.of(List.of(cpu())), null,
        (name, folders) -> fail("nothing to look up for the CPU natives"));
    assertTrue(alone.cudaUnavailable().contains("-Pgpu"), alone.cudaUnavailable());

    IllegalStateException none = assertThrows(IllegalStateException.class, () -> LibTorch.choose(List.of(),
        Optional.empty(), Optional.empty(), null, (name, folders) -> true));
    assertTrue(none.getMessage().contains("bytedeco pytorch jar of this platform is missing"), none.getMessage());
  }

  @Test
  void theLoadedCpuBuildSaysWhyItHasNoCuda() {
    assertTrue(LibTorch.cudaUnavailable().orElseThrow().contains("./mvnw -Pgpu"));
  }

  /** A GPU libtorch stub needing {@code soname}, which was built and then removed, so nothing can find it. */
  private Path gpuNativesNeeding(String soname) {
    Path absent = StubLibraries.build(dir.resolve("absent"), soname, false, List.of(), List.of());
    Path gpu = StubLibraries.build(dir.resolve("gpu"), "libtorch_cpu.so", false, List.of(absent),
        List.of(dir.resolve("absent")));
    try {
      Files.delete(absent);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return gpu;
  }

  private Path cpu() {
    return torchFolder.resolve("libtorch_cpu.so");
  }
}
