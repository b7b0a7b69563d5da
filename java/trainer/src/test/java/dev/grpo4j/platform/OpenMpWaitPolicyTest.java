package dev.grpo4j.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LibTorch#load()} makes libtorch's OpenMP threads sleep when idle unless the environment says otherwise:
 * checked in fresh JVMs, where OpenMP's runtime reports the policy it read when it was loaded.
 */
class OpenMpWaitPolicyTest {
  @TempDir
  Path dir;

  @Test
  void anUnsetPolicyBecomesPassive() throws Exception {
    String out = runChild(Map.of());
    assertTrue(out.contains("OMP_WAIT_POLICY = 'PASSIVE'"), out);
  }

  @Test
  void aPolicyTheEnvironmentSetsIsKept() throws Exception {
    String out = runChild(Map.of(LibTorch.OMP_WAIT_POLICY, "ACTIVE"));
    assertTrue(out.contains("OMP_WAIT_POLICY = 'ACTIVE'"), out);
  }

  private String runChild(Map<String, String> environment) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Child.class.getName()));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(dir.resolve("child.out").toFile());
    builder.environment().remove(LibTorch.OMP_WAIT_POLICY);
    builder.environment().putAll(environment);
    Process child = builder.start();
    if (!child.waitFor(120, TimeUnit.SECONDS)) {
      child.destroyForcibly();
      throw new AssertionError("the child JVM did not finish in 120 s");
    }
    String out = Files.readString(dir.resolve("child.out"));
    assertEquals(0, child.exitValue(), out);
    return out;
  }

  /** Loads libtorch, then prints OpenMP's settings. */
  public static final class Child {
    static {
      LibTorch.load();
    }

    public static void main(String[] args) throws Throwable {
      Linker linker = Linker.nativeLinker();
      MemorySegment display = SymbolLookup.loaderLookup().find("omp_display_env").orElseThrow();
      MethodHandle displayEnv = linker.downcallHandle(display, FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
      displayEnv.invokeExact(0);
    }
  }
}
