package dev.grpo4j.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Optional;
import java.util.stream.Stream;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The dependency order {@link LibTorch} loads bytedeco's libraries in, read from their ELF dynamic sections. */
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
  void loadIsIdempotentAndLibtorchWorks() {
    LibTorch.load();
    assertEquals(3.0, torch.ones(3).sum().item_double());
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
}
