package dev.grpo4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.grpo4j.platform.LibTorch;
import dev.grpo4j.testing.LibTorchGuards;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every benchmark class that could be the first to touch libtorch in a JMH fork calls {@code LibTorch.load()} in its
 * static initialiser: a fork is a fresh JVM that starts in JMH's code, so no launcher or main method of ours runs
 * before the benchmark's state is set up.
 */
class LibTorchGuardTest {
  @Test
  void everyBenchmarkClassThatTouchesLibTorchLoadsItFirst() throws URISyntaxException {
    Path classes = Path.of(Report.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    List<String> unguarded = new LibTorchGuards(LibTorch.class.getName().replace('.', '/'), "load",
        LibTorchGuardTest.class.getClassLoader()).unguarded(classes);
    assertEquals(List.of(), unguarded, "add `static { LibTorch.load(); }` as the first static member of these");
  }
}
