package dev.grpo4j.cli;

import static dev.grpo4j.cli.TrainCommandTest.assertSameRun;
import static dev.grpo4j.cli.TrainFixtures.assertOneLineError;
import static dev.grpo4j.cli.TrainFixtures.train;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.grpo4j.io.AtomicDirectory;
import dev.grpo4j.io.FolderLock;
import dev.grpo4j.io.RunFolder;
import dev.grpo4j.report.RunLog;
import dev.grpo4j.train.RunCheckpoints;
import dev.grpo4j.train.TrainConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What must never lose a user's work: a full disk while checkpointing, two runs in one folder, a run killed before
 * or after its first checkpoint, a damaged newest checkpoint, SIGINT and SIGTERM. Every interrupted run is resumed
 * and compared bit for bit with the same run done in one go.
 */
class TrainReliabilityTest {
  private static final Duration TIMEOUT = Duration.ofMinutes(3);
  /** Enough steps that a child process is still training when the test acts on it. */
  private static final String[] LONG_RUN = {"--steps", "300", "--checkpoint-every", "100", "--eval-every", "100"};

  @TempDir
  Path tmp;

  @Test
  void aFullDiskWhileCheckpointingIsAnErrorAndKeepsThePreviousCheckpoint() throws Exception {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 11);
    Path mount = Files.createDirectories(tmp.resolve("small-disk"));
    // A 2.9 MB file system: the kept reference model (0.5 MB), the first checkpoint (0.5 MB model + 1 MB optimizer
    // state) and the second checkpoint's model fit, its optimizer state does not.
    assumeTrue(run("mount", "-t", "tmpfs", "-o", "size=2900k", "tmpfs", mount.toString()) == 0,
        "mounting a small tmpfs needs root; OptimizerFileTest covers a full disk through /dev/full");
    try {
      Path out = mount.resolve("run");
      CliRun full = train(data, out, "--steps", "3", "--checkpoint-every", "1", "--eval-every", "0");
      assertOneLineError(full, "No space left on device");
      assertTrue(full.err().contains("optimizer.pt"), full.err());
      List<RunCheckpoints.Checkpoint> left = RunCheckpoints.list(out);
      assertEquals(List.of(1), left.stream().map(RunCheckpoints.Checkpoint::step).toList());
      try (Stream<Path> files = Files.list(out.resolve(RunCheckpoints.FOLDER))) {
        assertEquals(List.of("step-00000001"), files.map(p -> p.getFileName().toString()).toList(),
            "no partial checkpoint folder is left behind");
      }
      assertTrue(Files.size(left.getFirst().folder().resolve(RunCheckpoints.OPTIMIZER)) > 0);
    } finally {
      run("umount", mount.toString());
    }
  }

  @Test
  void aSecondRunIntoALockedFolderIsRefusedAndAKilledRunResumes() throws Exception {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 12);
    Path out = tmp.resolve("run");
    try (ChildJvm first = ChildJvm.grpo4j(tmp, "first", Map.of(), List.of(), trainArgs(data, out, LONG_RUN))) {
      Path lockFile = out.resolve(FolderLock.FILE);
      // The lock is taken first; the settings are written once the reference log-probs are ready.
      awaitOrFail(first, () -> read(lockFile).contains("pid " + first.pid())
          && Files.exists(out.resolve(TrainConfig.FILE)), "the first run to lock " + out + " and start training");
      first.signal("STOP");
      CliRun second = train(data, out, LONG_RUN);
      assertOneLineError(second, "is in use by another grpo4j process");
      assertTrue(second.err().contains("pid " + first.pid()), second.err());
      first.signal("KILL");
      first.waitFor(TIMEOUT);
    }
    CliRun resumed = CliRun.of("train", "--resume", "--out", out.toString(), "--no-progress");
    assertEquals(0, resumed.exitCode(), resumed.err());
    assertTrue(resumed.err().contains("ended without releasing it"), resumed.err());
    assertSameAsUninterrupted(data, out, LONG_RUN);
  }

  @ParameterizedTest
  @ValueSource(strings = {"INT", "TERM"})
  void aSignalFinishesTheStepWritesACheckpointAndTheRunResumes(String signal) throws Exception {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 13);
    Path out = tmp.resolve("run");
    int exit;
    String err;
    try (ChildJvm child = ChildJvm.grpo4j(tmp, "signalled", Map.of(), List.of(), trainArgs(data, out, LONG_RUN))) {
      awaitOrFail(child, () -> lines(RunLog.metricsFile(out)) >= 3, "three logged steps");
      child.signal(signal);
      exit = child.waitFor(TIMEOUT);
      err = child.stderr();
    }
    assertEquals(signal.equals("INT") ? 130 : 143, exit, err);
    assertTrue(err.contains("stopped by SIG" + signal + " after step "), err);
    int step = Integer.parseInt(err.replaceAll("(?s).*after step (\\d+).*", "$1"));
    assertTrue(step < 300, "stopped early: " + step);
    assertEquals(step, RunCheckpoints.latest(out).step(), "the checkpoint of the last finished step");
    assertEquals(step, lines(RunLog.metricsFile(out)), "no step after the checkpoint was logged");

    CliRun resumed = CliRun.of("train", "--resume", "--out", out.toString(), "--no-progress");
    assertEquals(0, resumed.exitCode(), resumed.err());
    assertTrue(resumed.err().contains("(step " + step + " of 300)"), resumed.err());
    assertSameAsUninterrupted(data, out, LONG_RUN);
  }

  @ParameterizedTest
  @ValueSource(strings = {"optimizer.pt", "model/model.safetensors", "trainer_state.json"})
  void aDamagedNewestCheckpointIsNamedAndTheOneBeforeItIsUsed(String damaged) throws Exception {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 14);
    String[] options = {"--steps", "6", "--checkpoint-every", "2", "--keep-checkpoints", "3", "--eval-every", "2"};
    Path whole = tmp.resolve("whole");
    assertEquals(0, train(data, whole, options).exitCode());
    Path out = tmp.resolve("damaged");
    TrainCommandTest.interruptAfterFirstCheckpoint(whole, out, 999);
    AtomicDirectory.deleteRecursively(out.resolve("final"));
    Path file = out.resolve("checkpoints/step-00000006").resolve(damaged);
    byte[] bytes = Files.readAllBytes(file);
    Files.write(file, damaged.endsWith(".json") ? "{\"step\": 6, \"consumed".getBytes(StandardCharsets.UTF_8)
        : Arrays.copyOf(bytes, bytes.length / 2));
    Path orphan = Files.createDirectories(out.resolve("checkpoints/.step-00000008.partial-0123abcd"));
    Files.writeString(orphan.resolve("optimizer.pt"), "half");

    CliRun resumed = CliRun.of("train", "--resume", "--out", out.toString(), "--no-progress");
    assertEquals(0, resumed.exitCode(), resumed.err());
    assertTrue(resumed.err().contains("checkpoint step-00000006 is damaged"), resumed.err());
    assertTrue(resumed.err().contains(Path.of(damaged).getFileName().toString()), resumed.err());
    assertTrue(resumed.err().contains("resuming from") && resumed.err().contains("step-00000004"), resumed.err());
    assertTrue(resumed.err().contains("tidied"), resumed.err());
    assertFalse(Files.exists(orphan), "the orphan partial checkpoint is removed");
    assertSameRun(whole, out);
    assertArrayEquals(Files.readAllBytes(whole.resolve("final/model/model.safetensors")),
        Files.readAllBytes(out.resolve("final/model/model.safetensors")));
  }

  @Test
  void aRunWithoutAnIntactCheckpointStartsAgainOnResume() throws Exception {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 15);
    String[] options = {"--steps", "4", "--eval-every", "2"};
    Path out = tmp.resolve("run");
    assertEquals(0, train(data, out, options).exitCode());
    for (RunCheckpoints.Checkpoint c : RunCheckpoints.list(out)) {
      AtomicDirectory.deleteRecursively(c.folder());
    }
    AtomicDirectory.deleteRecursively(out.resolve("final"));
    CliRun resumed = CliRun.of("train", "--resume", "--out", out.toString(), "--no-progress");
    assertEquals(0, resumed.exitCode(), resumed.err());
    assertTrue(resumed.err().contains("no intact checkpoint; starting the run again"), resumed.err());
    assertSameAsUninterrupted(data, out, options);
  }

  @Test
  void outMustBeAFolder() throws Exception {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 16);
    Path file = Files.writeString(tmp.resolve("notes.txt"), "mine");
    assertOneLineError(train(data, file, "--steps", "1"), "is a file, not a folder");
    assertEquals("mine", Files.readString(file));
  }

  @Test
  void resumingOnChangedDataIsRefusedNamingTheFile() throws Exception {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 18);
    Path out = tmp.resolve("run");
    assertEquals(0, train(data, out, "--steps", "2", "--checkpoint-every", "1").exitCode());
    Files.writeString(data.train(), Files.readString(data.train()).replaceFirst("yes", "yes!"));
    CliRun resumed = CliRun.of("train", "--resume", "--out", out.toString(), "--no-progress");
    assertOneLineError(resumed, "--resume: --train " + data.train() + " changed since the run started");
    String validation = Files.readString(data.validation());
    Files.writeString(data.train(), Files.readString(data.train()).replaceFirst("yes!", "yes"));
    Files.writeString(data.validation(), validation + validation.lines().findFirst().orElseThrow() + "\n");
    assertOneLineError(CliRun.of("train", "--resume", "--out", out.toString(), "--no-progress"),
        "--validation " + data.validation() + " changed");
    Files.writeString(data.validation(), validation);
    CliRun restored = CliRun.of("train", "--resume", "--out", out.toString(), "--no-progress");
    assertEquals(0, restored.exitCode(), restored.err());
  }

  @Test
  void aFolderOfTheUsersIsNeverWrittenInto() throws Exception {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 17);
    Path folder = Files.createDirectories(tmp.resolve("mine"));
    Files.writeString(folder.resolve("report.md"), "my report");
    Files.writeString(folder.resolve("metrics.jsonl"), "my metrics\n");
    assertOneLineError(train(data, folder, "--steps", "1"),
        "--out " + folder + " is not empty and holds no grpo4j run (it holds metrics.jsonl, report.md)");
    try (var entries = Files.list(folder)) {
      assertEquals(List.of("metrics.jsonl", "report.md"),
          entries.map(p -> p.getFileName().toString()).sorted().toList());
    }
    assertEquals("my metrics\n", Files.readString(folder.resolve("metrics.jsonl")));

    // What an early failure leaves (the lock, the groups, the reference log-probs) is the command's own: reused.
    Path failedStart = Files.createDirectories(tmp.resolve("failed"));
    Files.createDirectories(failedStart.resolve("reference"));
    Files.writeString(failedStart.resolve(RunFolder.GROUPS), "{}");
    Files.writeString(failedStart.resolve(FolderLock.FILE), "");
    CliRun reused = train(data, failedStart, "--steps", "1");
    assertEquals(0, reused.exitCode(), reused.err());
  }

  private void assertSameAsUninterrupted(TrainFixtures.Data data, Path interrupted, String... options)
      throws IOException {
    Path whole = tmp.resolve("uninterrupted");
    assertEquals(0, train(data, whole, options).exitCode());
    assertSameRun(whole, interrupted);
    assertArrayEquals(Files.readAllBytes(whole.resolve("final/model/model.safetensors")),
        Files.readAllBytes(interrupted.resolve("final/model/model.safetensors")), "final weights");
  }

  /** The arguments {@link TrainFixtures#train} would pass, for a child process. */
  private static String[] trainArgs(TrainFixtures.Data data, Path out, String... extra) {
    List<String> args = new ArrayList<>(List.of("train", "--no-progress", "--model", "tiny-llama", "--train",
        data.train().toString(), "--validation", data.validation().toString(), "--test", data.test().toString(),
        "--batch-size", "4", "--lr", "1e-3", "--seed", "5", "--threads", "1", "--out", out.toString()));
    args.addAll(List.of(extra));
    return args.toArray(new String[0]);
  }

  private static void awaitOrFail(ChildJvm child, BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (!condition.getAsBoolean()) {
      if (!child.isAlive()) {
        throw new AssertionError("the child exited before " + what + ":\n" + child.output());
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("no " + what + " within " + TIMEOUT + ":\n" + child.output());
      }
      Thread.sleep(5);
    }
  }

  private static String read(Path file) {
    try {
      return Files.exists(file) ? Files.readString(file) : "";
    } catch (IOException e) {
      return "";
    }
  }

  private static long lines(Path file) {
    return read(file).lines().filter(l -> l.endsWith("}")).count();
  }

  private static int run(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    return p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
  }
}
