package dev.grpo4j.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.testing.LibTorchGuards;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.pytorch.Module;
import org.junit.jupiter.api.Test;

/**
 * Every class of the trainer that could be the first to touch libtorch calls {@link LibTorch#load()} in its static
 * initialiser, so a program that uses {@code grpo4j-trainer} as a library never loads a second libtorch, whatever
 * class it starts with.
 */
class LibTorchGuardTest {
  private final LibTorchGuards guards =
      new LibTorchGuards(LibTorch.class.getName().replace('.', '/'), "load", LibTorchGuardTest.class.getClassLoader());

  @Test
  void everyTrainerClassThatTouchesLibTorchLoadsItFirst() throws URISyntaxException {
    List<String> unguarded = guards.unguarded(classesOf(LibTorch.class));
    assertEquals(List.of(), unguarded, "add `static { LibTorch.load(); }` as the first static member of these");
  }

  @Test
  void theCheckSeesAClassThatTouchesLibTorchThroughJavaCppAlone() throws URISyntaxException {
    List<String> unguarded = guards.unguarded(classesOf(LibTorchGuardTest.class));
    assertTrue(unguarded.stream().anyMatch(line -> line.startsWith("dev.grpo4j.cli.ColdStartTest$TorchThroughJavaCpp:")
        && line.contains("org.bytedeco.pytorch.global.torch")), String.join("\n", unguarded));
    assertTrue(unguarded.stream().anyMatch(line -> line.startsWith(PublicModule.class.getName() + ":")
        && line.contains("<init> is public")), String.join("\n", unguarded));
    assertTrue(unguarded.stream().noneMatch(line -> line.startsWith(LibTorchGuardTest.class.getName() + ":")),
        String.join("\n", unguarded));
  }

  @Test
  void everyChildJvmMainOfTheTestsLoadsLibTorchFirst() throws Exception {
    // The launcher listener guards the test JVM only; a JVM a test starts runs its main class alone.
    List<String> unguardedMains = new java.util.ArrayList<>();
    for (String line : guards.unguarded(classesOf(LibTorchGuardTest.class))) {
      String name = line.substring(0, line.indexOf(':'));
      try {
        Class.forName(name, false, getClass().getClassLoader()).getDeclaredMethod("main", String[].class);
        unguardedMains.add(line);
      } catch (NoSuchMethodException notAMain) {
        // Test classes run inside the guarded test JVM.
      }
    }
    assertEquals(1, unguardedMains.size(), String.join("\n", unguardedMains));
    assertTrue(unguardedMains.getFirst().startsWith("dev.grpo4j.cli.ColdStartTest$TorchThroughJavaCpp:"),
        "the one meant to load libtorch the plain way: " + unguardedMains);
  }

  /** A libtorch module a program could create first: its superclass loads libtorch before anything of its own. */
  public static final class PublicModule extends Module {
    public PublicModule() {}
  }

  private static Path classesOf(Class<?> type) throws URISyntaxException {
    return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
  }
}
