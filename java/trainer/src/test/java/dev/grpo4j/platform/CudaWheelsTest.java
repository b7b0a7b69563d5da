package dev.grpo4j.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The folders {@link CudaWheels} offers the GPU libtorch, in the order they are tried. */
class CudaWheelsTest {
  @TempDir
  Path root;

  @Test
  void explicitFoldersFirstThenTheEnvironmentsWheelsOfEveryPythonFound() throws IOException {
    Path venv = root.resolve("work/venv");
    Path home = root.resolve("home/user");
    Path venvCublas = lib(venv.resolve("lib/python3.12/site-packages/nvidia/cublas"));
    Path homeCudnn = lib(home.resolve(".local/lib/python3.11/site-packages/nvidia/cudnn"));
    Path systemNccl = lib(root.resolve("usr/lib/python3/dist-packages/nvidia/nccl"));
    Path imageCu13 = lib(root.resolve("opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13"));
    Path imageRuntime = lib(root.resolve("opt/torch/.venv/lib/python3.12/site-packages/nvidia/cuda_runtime"));
    Files.createDirectories(root.resolve("opt/torch/.venv/lib/python3.12/site-packages/nvidia/no_lib_here"));
    lib(root.resolve("opt/torch/.venv/lib/python2.7/site-packages/nvidia/old"));

    List<String> folders = CudaWheels.folders(Map.of(CudaWheels.LIBRARY_PATH_ENV, "/cuda/a::/cuda/b",
        "VIRTUAL_ENV", venv.toString()), home, root);

    assertEquals(List.of("/cuda/a", "/cuda/b", venvCublas.toString(), homeCudnn.toString(), systemNccl.toString(),
        imageCu13.toString(), imageRuntime.toString()), folders);
  }

  @Test
  void noPythonNoFolders() {
    assertEquals(List.of(), CudaWheels.folders(Map.of(), root.resolve("home"), root));
  }

  private static Path lib(Path wheel) throws IOException {
    return Files.createDirectories(wheel.resolve("lib"));
  }
}
