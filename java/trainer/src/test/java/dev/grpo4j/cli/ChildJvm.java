package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.fail;

import dev.grpo4j.train.ReferenceLogProbs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A JVM started by a test on this test run's class path, with its output in files. Every wait is bounded: on
 * timeout the process and its descendants are killed (only those: this test started them) and the test fails with
 * what the process printed.
 */
public final class ChildJvm implements AutoCloseable {
  private final Process process;
  private final Path out;
  private final Path err;

  private ChildJvm(Process process, Path out, Path err) {
    this.process = process;
    this.out = out;
    this.err = err;
  }

  /**
   * Starts {@code mainClass} with {@code args}; {@code jvmOptions} go before the class name, {@code environment}
   * is added to this process's environment. Output goes to {@code logs}/{@code name}.out and .err.
   */
  public static ChildJvm start(Path logs, String name, Map<String, String> environment, List<String> jvmOptions,
      String mainClass, String... args) {
    return start(logs, name, environment, jvmOptions, List.of(), mainClass, args);
  }

  /** As {@link #start(Path, String, Map, List, String, String...)}, with {@code classPathFirst} ahead of the run's. */
  public static ChildJvm start(Path logs, String name, Map<String, String> environment, List<String> jvmOptions,
      List<Path> classPathFirst, String mainClass, String... args) {
    return start(List.of(), logs, name, environment, jvmOptions, classPathFirst, mainClass, args);
  }

  /**
   * Runs {@code grpo4j args} as a terminal runs a foreground job: the leader of a process group of its own, which
   * {@link #signalGroup} signals as a whole, as Ctrl-C does.
   */
  public static ChildJvm grpo4jAsForegroundJob(Path logs, String name, String... args) {
    return start(List.of("setsid"), logs, name, Map.of(), List.of(), List.of(), Main.class.getName(), args);
  }

  private static ChildJvm start(List<String> prefix, Path logs, String name, Map<String, String> environment,
      List<String> jvmOptions, List<Path> classPathFirst, String mainClass, String... args) {
    List<String> command = new ArrayList<>(prefix);
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("--enable-native-access=ALL-UNNAMED");
    String cache = System.getProperty(ReferenceLogProbs.CACHE_PROPERTY);
    if (cache != null) {
      command.add("-D" + ReferenceLogProbs.CACHE_PROPERTY + "=" + cache);
    }
    command.addAll(jvmOptions);
    command.add("-cp");
    List<String> classPath = new ArrayList<>(classPathFirst.stream().map(Path::toString).toList());
    classPath.add(System.getProperty("java.class.path"));
    command.add(String.join(java.io.File.pathSeparator, classPath));
    command.add(mainClass);
    command.addAll(List.of(args));
    Path out = logs.resolve(name + ".out");
    Path err = logs.resolve(name + ".err");
    ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
    builder.environment().put(Main.OMP_WAIT_POLICY, "PASSIVE");
    builder.environment().putAll(environment);
    try {
      return new ChildJvm(builder.start(), out, err);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Runs {@code grpo4j args} in a child JVM and waits for it. */
  public static ChildJvm grpo4j(Path logs, String name, Map<String, String> environment, List<String> jvmOptions,
      String... args) {
    return start(logs, name, environment, jvmOptions, Main.class.getName(), args);
  }

  public long pid() {
    return process.pid();
  }

  /** The processes this one started (a launcher's workers). */
  public java.util.List<ProcessHandle> children() {
    return process.children().toList();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /** The exit code, waiting at most {@code timeout}; a process still running then is killed and the test fails. */
  public int waitFor(Duration timeout) {
    try {
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        kill();
        fail("process " + process.pid() + " still running after " + timeout + "; killed it.\n" + output());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      kill();
      fail("interrupted while waiting for process " + process.pid());
    }
    return process.exitValue();
  }

  /** Sends a POSIX signal by name ({@code INT}, {@code TERM}, {@code KILL}) to the process itself. */
  public void signal(String name) {
    sendKill("-" + name, Long.toString(process.pid()));
  }

  /** Sends a POSIX signal to the process group this process leads ({@link #grpo4jAsForegroundJob}). */
  public void signalGroup(String name) {
    sendKill("-" + name, "--", "-" + process.pid());
  }

  private void sendKill(String... args) {
    List<String> command = new ArrayList<>(List.of("kill"));
    command.addAll(List.of(args));
    try {
      Process kill = new ProcessBuilder(command).inheritIO().start();
      if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
        fail(String.join(" ", command) + " failed");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      fail("interrupted while signalling " + process.pid());
    }
  }

  public String stdout() {
    return read(out);
  }

  public String stderr() {
    return read(err);
  }

  /** Both streams, for failure messages. */
  public String output() {
    return "--- stdout ---\n" + stdout() + "--- stderr ---\n" + stderr();
  }

  private void kill() {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    try {
      process.waitFor(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static String read(Path file) {
    try {
      return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      kill();
    }
  }
}
