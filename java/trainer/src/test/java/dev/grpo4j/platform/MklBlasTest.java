package dev.grpo4j.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * libtorch's matrix products run on oneMKL's GNU-OpenMP layer by default, on the one OpenMP runtime libtorch loads,
 * and on OpenBLAS when {@code -Dgrpo4j.blas=openblas} asks: checked in fresh JVMs, through MKL's own call log
 * ({@code MKL_VERBOSE}) and the libraries mapped into the process.
 */
class MklBlasTest {
  @TempDir
  Path dir;

  @Test
  void productsRunOnMklOnLibtorchsOpenMpThreads() throws Exception {
    String out = runChild(List.of(), "mkl");
    assertTrue(out.contains("blas: Intel(R) oneAPI Math Kernel Library"), out);
    // MKL logs each call with its threading layer and the threads it used.
    assertTrue(out.contains("lp64 gnu_thread"), out);
    assertTrue(out.lines().anyMatch(line -> line.startsWith("MKL_VERBOSE SGEMM(") && line.contains("NThr:2")), out);
    assertTrue(out.contains("openmp runtimes: 1"), out);
    assertTrue(out.contains("mkl outside the cache: 0"), out);
  }

  @Test
  void openBlasWhenAskedFor() throws Exception {
    String mkl = runChild(List.of(), "mkl");
    String openblas = runChild(List.of("-D" + MklBlas.PROPERTY + "=openblas"), "openblas");
    assertTrue(openblas.contains("blas: OpenBLAS"), openblas);
    assertFalse(openblas.contains("MKL_VERBOSE"), openblas);
    assertTrue(openblas.contains("mkl libraries: 0"), openblas);
    // The same product to float32 rounding: both are the matrix product, through different kernels.
    double a = product(mkl);
    double b = product(openblas);
    assertTrue(Math.abs(a - b) <= 1e-5 * Math.abs(b), a + " against " + b);
  }

  @Test
  void aChoiceOtherThanMklOrOpenBlasIsRefusedByName() {
    IllegalArgumentException e = refusedWith("blis", Loader.getPlatform());
    assertTrue(e.getMessage().contains("-Dgrpo4j.blas=blis: use mkl or openblas"), e.getMessage());
  }

  @Test
  void askingForMklWhereItIsNotBundledSaysWhatToAdd() {
    IllegalArgumentException e = refusedWith("mkl", "linux-riscv64");
    assertTrue(e.getMessage().contains("org.bytedeco:mkl:...:linux-riscv64-redist"), e.getMessage());
  }

  /** What {@link MklBlas#wanted} throws with {@value MklBlas#PROPERTY} set to {@code choice} (restored after). */
  private static IllegalArgumentException refusedWith(String choice, String platform) {
    String previous = System.getProperty(MklBlas.PROPERTY);
    System.setProperty(MklBlas.PROPERTY, choice);
    try {
      return assertThrows(IllegalArgumentException.class, () -> MklBlas.wanted(platform));
    } finally {
      if (previous == null) {
        System.clearProperty(MklBlas.PROPERTY);
      } else {
        System.setProperty(MklBlas.PROPERTY, previous);
      }
    }
  }

  private static double product(String out) {
    return out.lines().filter(line -> line.startsWith("product: ")).mapToDouble(line -> Double.parseDouble(
        line.substring("product: ".length()))).findFirst().orElseThrow(() -> new AssertionError(out));
  }

  private String runChild(List<String> jvmOptions, String name) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED"));
    command.addAll(jvmOptions);
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), Child.class.getName()));
    Path log = dir.resolve(name + ".out");
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    builder.environment().putAll(Map.of("MKL_VERBOSE", "1"));
    Process child = builder.start();
    if (!child.waitFor(120, TimeUnit.SECONDS)) {
      child.destroyForcibly();
      throw new AssertionError("the child JVM did not finish in 120 s");
    }
    String out = Files.readString(log);
    assertEquals(0, child.exitValue(), out);
    return out;
  }

  /** Loads libtorch, multiplies two matrices on 2 threads, and reports the BLAS and the libraries mapped. */
  public static final class Child {
    static {
      LibTorch.load();
    }

    public static void main(String[] args) throws IOException {
      torch.set_num_threads(2);
      LibTorch.setBlasThreads(2);
      float[] values = new float[512 * 384];
      for (int i = 0; i < values.length; i++) {
        values[i] = i % 17 - 8;
      }
      Tensor a = HostTensors.floats(values, 512, 384);
      double[] product = HostTensors.toDoubles(torch.matmul(a, a.t().contiguous()).to(ScalarType.Double));
      System.out.println("product: " + Arrays.stream(product).map(x -> x * x).sum());
      System.out.println("blas: " + LibTorch.blas());
      String cache = Loader.getCacheDir().getCanonicalPath();
      List<String> mapped;
      try (Stream<String> lines = Files.lines(Path.of("/proc/self/maps"))) {
        mapped = lines.map(line -> line.split("\\s+")).filter(fields -> fields.length >= 6)
            .map(fields -> fields[5]).distinct().toList();
      }
      System.out.println("openmp runtimes: " + mapped.stream().filter(path -> path.contains("libgomp")
          || path.contains("libiomp")).count());
      List<String> mkl = mapped.stream().filter(path -> path.contains("libmkl_")).toList();
      System.out.println("mkl libraries: " + mkl.size());
      System.out.println("mkl outside the cache: " + mkl.stream().filter(path -> !path.startsWith(cache)).count());
    }
  }
}
