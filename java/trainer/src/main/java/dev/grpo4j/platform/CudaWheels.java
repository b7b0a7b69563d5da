package dev.grpo4j.platform;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Where the CUDA libraries of a machine's Python may be: the {@code lib} folders of the {@code nvidia-*} wheels that
 * PyTorch installs (CUDA runtime, cuBLAS, cuDNN, NCCL, ...), so that the GPU libtorch finds them without a CUDA
 * toolkit or {@code LD_LIBRARY_PATH}. {@code GRPO4J_CUDA_LIBRARY_PATH} (folders separated by {@code :}) comes first;
 * then the site-packages of the active virtual or conda environment, the user's, and the system's Pythons, and of
 * the environments under {@code /opt}.
 */
final class CudaWheels {
  /** Environment variable naming more folders that hold CUDA libraries. */
  static final String LIBRARY_PATH_ENV = "GRPO4J_CUDA_LIBRARY_PATH";

  private CudaWheels() {}

  /** The folders for this process's environment and home. */
  static List<String> folders() {
    return folders(System.getenv(), Path.of(System.getProperty("user.home")), Path.of("/"));
  }

  /** The folders for {@code env}, {@code home}, and a file system rooted at {@code root} (tests use a scratch one). */
  static List<String> folders(Map<String, String> env, Path home, Path root) {
    Set<String> folders = new LinkedHashSet<>();
    String explicit = env.get(LIBRARY_PATH_ENV);
    if (explicit != null) {
      for (String folder : explicit.split(":")) {
        if (!folder.isBlank()) {
          folders.add(folder);
        }
      }
    }
    List<Path> prefixes = new ArrayList<>();
    for (String variable : List.of("VIRTUAL_ENV", "CONDA_PREFIX")) {
      String prefix = env.get(variable);
      if (prefix != null && !prefix.isBlank()) {
        prefixes.add(Path.of(prefix));
      }
    }
    prefixes.add(home.resolve(".local"));
    prefixes.add(root.resolve("usr/local"));
    prefixes.add(root.resolve("usr"));
    prefixes.add(root.resolve("opt/conda"));
    prefixes.addAll(children(root.resolve("opt")).stream().map(p -> p.resolve(".venv")).toList());
    for (Path prefix : prefixes) {
      for (Path python : children(prefix.resolve("lib"))) {
        if (!python.getFileName().toString().startsWith("python3")) {
          continue;
        }
        for (String packages : List.of("site-packages", "dist-packages")) {
          for (Path wheel : children(python.resolve(packages).resolve("nvidia"))) {
            if (Files.isDirectory(wheel.resolve("lib"))) {
              folders.add(wheel.resolve("lib").toString());
            }
          }
        }
      }
    }
    return List.copyOf(folders);
  }

  private static List<Path> children(Path folder) {
    if (!Files.isDirectory(folder)) {
      return List.of();
    }
    try (Stream<Path> entries = Files.list(folder)) {
      return entries.sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + folder, e);
    }
  }
}
