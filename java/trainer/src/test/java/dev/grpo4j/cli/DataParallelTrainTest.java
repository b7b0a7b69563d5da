package dev.grpo4j.cli;

import static dev.grpo4j.cli.TrainFixtures.train;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.dist.CollectivesTest;
import dev.grpo4j.dist.DistributedException;
import dev.grpo4j.train.RunCheckpoints;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code train --nproc-per-node 2} on 127.0.0.1: two workers with one thread each, the global batch split between
 * them, end bit for bit where one process with {@code --grad-accumulation 2} ends: every logged loss, group loss and
 * group weight, every evaluation, the final weights and the group-weight state.
 */
class DataParallelTrainTest {
  @TempDir
  Path tmp;

  /** A sorting loss sorts within each micro-batch: a rank's, or one of the accumulated ones, alike. */
  @ParameterizedTest(name = "{0}, group update {1}")
  @CsvSource({"--method gr-dpo, per-micro-batch", "--method gr-ipo, per-micro-batch", "--method gr-dpo, per-step",
      "--loss aot_unpaired;sft --loss-weights 1;0.3 --weighting robust, per-micro-batch"})
  void twoProcessesEqualOneWithGradientAccumulation(String objective, String groupUpdate) throws IOException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 7);
    String[] common = concat(objective.replace(';', ',').split(" "), "--eta", "1", "--steps", "10", "--eval-every",
        "5", "--checkpoint-every", "5", "--lr", "1e-2", "--group-update", groupUpdate);
    Path one = tmp.resolve("one");
    Path two = tmp.resolve("two");
    oneAndTwoProcesses(data, common, one, two);

    TrainCommandTest.assertSameRun(one, two);
    assertArrayEquals(Files.readAllBytes(one.resolve("final/model/model.safetensors")),
        Files.readAllBytes(two.resolve("final/model/model.safetensors")), "final weights");
    String state = "checkpoints/step-00000010/trainer_state.json";
    assertEquals(Files.readString(one.resolve(state)).replaceAll("\"seconds\" : [0-9.E-]+", ""),
        Files.readString(two.resolve(state)).replaceAll("\"seconds\" : [0-9.E-]+", ""), "group weights and sampler");
  }

  /** SFT is split among the ranks as the preference steps are, and equals the one-process run bit for bit too. */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"full", "lora"})
  void sftIsSplitAmongTheRanksAsThePreferenceStepsAre(String weights) throws IOException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 11);
    String[] common = {"--method", "gr-dpo", "--sft-steps", "4", "--sft-lr", "1e-2", "--steps", "2", "--lr", "1e-2",
        "--eval-every", "0"};
    if (weights.equals("lora")) {
      common = concat(common, "--lora-rank", "4", "--lora-dropout", "0.1");
    }
    Path one = tmp.resolve("one");
    Path two = tmp.resolve("two");
    CliRun[] runs = oneAndTwoProcesses(data, common, one, two);
    CliRun single = runs[0];
    CliRun parallel = runs[1];

    String sftResult = weights.equals("lora") ? "sft/model/model.safetensors" : "reference/model/model.safetensors";
    assertArrayEquals(Files.readAllBytes(one.resolve(sftResult)), Files.readAllBytes(two.resolve(sftResult)),
        "the SFT result");
    String nll = single.err().lines().filter(line -> line.startsWith("sft: ")).findFirst().orElseThrow();
    assertTrue(parallel.err().contains(nll), "the same SFT line " + nll + " in:\n" + parallel.err());
    TrainCommandTest.assertSameRun(one, two);
  }

  @Test
  void aKilledWorkerStopsTheJobAndTheRunResumes() throws IOException, InterruptedException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 9);
    String[] common = {"--method", "gr-dpo", "--eta", "1", "--steps", "120", "--eval-every", "40",
        "--checkpoint-every", "5", "--lr", "1e-2", "--seed", "5", "--no-progress", "--train", data.train().toString(),
        "--validation", data.validation().toString(), "--test", data.test().toString(), "--model", "tiny-llama"};
    Path one = tmp.resolve("one");
    CliRun single = CliRun.of(concat(concat(new String[] {"train"}, common), "--batch-size", "2",
        "--grad-accumulation", "2", "--threads", "1", "--out", one.toString()));
    assertEquals(0, single.exitCode(), single.err());

    Path two = tmp.resolve("two");
    String[] parallel = concat(common, "--batch-size", "4", "--nproc-per-node", "2", "--threads", "2",
        "--dist-timeout", "20", "--out", two.toString());
    long started = System.nanoTime();
    try (ChildJvm launcher = ChildJvm.grpo4j(tmp, "launcher", Map.of(), List.of(), concat(new String[] {"train"},
        concat(parallel, "--master-port", Integer.toString(CollectivesTest.freePort()))))) {
      List<ProcessHandle> workers = workersPastTheirFirstCheckpoint(launcher, two, 5);
      // The worker of rank 1 (started second) dies without a word.
      workers.stream().max(java.util.Comparator.comparingLong(ProcessHandle::pid)).orElseThrow().destroyForcibly();
      int code = launcher.waitFor(Duration.ofSeconds(90));
      assertTrue(code != 0, "the job fails:\n" + launcher.output());
      assertFalse(launcher.children().stream().anyMatch(ProcessHandle::isAlive), "no worker left behind");
      assertTrue(launcher.stderr().contains("exited with code"), launcher.output());
    }
    assertTrue(System.nanoTime() - started < Duration.ofSeconds(200).toNanos(), "bounded by the timeout");
    assertFalse(Files.exists(two.resolve("final")), "the run did not finish");

    CliRun resumed = CliRun.of("train", "--resume", "--out", two.toString(), "--nproc-per-node", "2", "--threads",
        "2", "--no-progress", "--dist-timeout", "60", "--master-port", Integer.toString(CollectivesTest.freePort()));
    assertEquals(0, resumed.exitCode(), resumed.err());
    TrainCommandTest.assertSameRun(one, two);
    assertArrayEquals(Files.readAllBytes(one.resolve("final/model/model.safetensors")),
        Files.readAllBytes(two.resolve("final/model/model.safetensors")), "final weights");

    TrainFixtures.assertOneLineError(CliRun.of("train", "--resume", "--out", two.toString(), "--threads", "1"),
        "this run was set up for 2 processes but runs on 1");
  }

  @Test
  void aKilledLauncherTakesItsWorkersWithItAndLeavesTheCheckpointIntact() throws IOException, InterruptedException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 11);
    Path run = tmp.resolve("run");
    String[] args = {"train", "--method", "gr-dpo", "--steps", "100000", "--checkpoint-every", "3", "--batch-size",
        "4", "--nproc-per-node", "2", "--threads", "2", "--dist-timeout", "120", "--no-progress", "--model",
        "tiny-llama", "--train", data.train().toString(), "--out", run.toString(), "--master-port",
        Integer.toString(CollectivesTest.freePort())};
    try (ChildJvm launcher = ChildJvm.grpo4j(tmp, "launcher", Map.of(), List.of(), args)) {
      List<ProcessHandle> workers = workersPastTheirFirstCheckpoint(launcher, run, 3);
      ProcessHandle.of(launcher.pid()).orElseThrow().destroyForcibly();
      long killed = System.nanoTime();
      for (ProcessHandle worker : workers) {
        long left = Duration.ofSeconds(20).toNanos() - (System.nanoTime() - killed);
        try {
          worker.onExit().get(Math.max(0, left), java.util.concurrent.TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
          workers.forEach(ProcessHandle::destroyForcibly);
          throw new AssertionError("worker " + worker.pid() + " still runs 20 s after its launcher was killed");
        }
      }
    }
    List<RunCheckpoints.Checkpoint> checkpoints = RunCheckpoints.list(run);
    assertFalse(checkpoints.isEmpty(), "the checkpoints are still there");
    assertTrue(Files.isRegularFile(checkpoints.getLast().folder().resolve("trainer_state.json")),
        "the newest checkpoint is complete");
    assertFalse(Files.exists(run.resolve("final")), "the run did not finish");
  }

  @Test
  void ctrlCInTheTerminalStopsAllRanksAtOneCheckpointAndTheRunResumes() throws IOException, InterruptedException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 12);
    Path run = tmp.resolve("run");
    String[] args = {"train", "--method", "gr-dpo", "--steps", "30", "--batch-size", "4", "--nproc-per-node", "2",
        "--threads", "2", "--dist-timeout", "120", "--no-progress", "--model", "tiny-llama", "--train",
        data.train().toString(), "--out", run.toString()};
    String port = Integer.toString(CollectivesTest.freePort());
    try (ChildJvm launcher = ChildJvm.grpo4jAsForegroundJob(tmp, "launcher", concat(args, "--master-port", port))) {
      Path metrics = run.resolve("metrics.jsonl");
      long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
      while ((!Files.exists(metrics) || Files.readAllLines(metrics).size() < 2) && launcher.isAlive()
          && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertTrue(Files.exists(metrics), "two logged steps:\n" + launcher.output());
      // What a terminal's Ctrl-C sends: SIGINT to the whole foreground process group.
      launcher.signalGroup("INT");
      assertEquals(130, launcher.waitFor(Duration.ofSeconds(120)), launcher.output());
      assertTrue(launcher.stderr().contains("Continue with: grpo4j train --resume --out " + run), launcher.output());
      assertFalse(launcher.stderr().contains("exited with code"), launcher.output());
    }
    List<RunCheckpoints.Checkpoint> checkpoints = RunCheckpoints.list(run);
    assertEquals(1, checkpoints.size(), "the checkpoint of the agreed stop");
    assertTrue(checkpoints.getFirst().step() < 30, "stopped early: " + checkpoints);

    CliRun resumed = CliRun.of("train", "--resume", "--out", run.toString(), "--nproc-per-node", "2", "--threads",
        "2", "--no-progress", "--dist-timeout", "60", "--master-port", Integer.toString(CollectivesTest.freePort()));
    assertEquals(0, resumed.exitCode(), resumed.err());
    assertTrue(Files.isDirectory(run.resolve("final")), resumed.err());
  }

  @Test
  void badLaunchesFailWithAMessage() throws IOException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 2);
    TrainFixtures.assertOneLineError(train(data, tmp.resolve("a"), "--nnodes", "2", "--node-rank", "2"),
        "--node-rank = 2");
    if (!torch.cuda_is_available()) {
      // Refused by the launcher itself, before any worker starts.
      CliRun gpu = train(data, tmp.resolve("g"), "--nproc-per-node", "2", "--device", "cuda", "--steps", "1");
      TrainFixtures.assertOneLineError(gpu, "--device cuda: this build bundles bytedeco's CPU libtorch only");
      assertFalse(gpu.err().contains("starting 2 workers"), gpu.err());
    }
    CliRun odd = train(data, tmp.resolve("b"), "--nproc-per-node", "2", "--batch-size", "3", "--steps", "1",
        "--master-port", Integer.toString(CollectivesTest.freePort()), "--dist-timeout", "20");
    TrainFixtures.assertOneLineError(odd, "must be a multiple of their number");
    assertFalse(odd.err().contains("starting 2 workers"), "refused before any worker starts:\n" + odd.err());
    Path single = tmp.resolve("single");
    assertEquals(0, train(data, single, "--steps", "1").exitCode());
    CliRun twice = CliRun.of("train", "--resume", "--out", single.toString(), "--nproc-per-node", "2");
    TrainFixtures.assertOneLineError(twice, "this run was set up for 1 process but runs on 2");
    assertFalse(twice.err().contains("starting 2 workers"), "refused before any worker starts:\n" + twice.err());
    try (ServerSocket taken = new ServerSocket(0)) {
      CliRun busy = train(data, tmp.resolve("c"), "--nproc-per-node", "2", "--steps", "1", "--master-port",
          Integer.toString(taken.getLocalPort()), "--dist-timeout", "10");
      assertTrue(busy.exitCode() != 0, busy.err());
      assertTrue(busy.err().contains("is the port in use?"), busy.err());
    }
    // One worker of two, started by hand, with no rank 0 anywhere.
    long started = System.nanoTime();
    try (ChildJvm alone = ChildJvm.grpo4j(tmp, "alone", Map.of("RANK", "1", "WORLD_SIZE", "2", "MASTER_ADDR",
        "127.0.0.1", "MASTER_PORT", Integer.toString(CollectivesTest.freePort())), List.of(), "train", "--model",
        "tiny-llama", "--train", data.train().toString(), "--steps", "1", "--dist-timeout", "15", "--out",
        tmp.resolve("d").toString())) {
      assertEquals(DistributedException.EXIT_CODE, alone.waitFor(Duration.ofSeconds(90)), alone.output());
      // c10d's client alone retried after its timeout: twice the timeout and more before this error.
      assertTrue(System.nanoTime() - started < Duration.ofSeconds(15 + 14).toNanos(),
          "the error comes at about --dist-timeout, not a multiple of it");
      assertTrue(alone.stderr().contains("is rank 0 running there"), alone.output());
      List<String> lines = alone.stderr().lines().toList();
      assertEquals(1, lines.size(), "one line, none of c10d's own log lines:\n" + alone.stderr());
      assertTrue(lines.getFirst().startsWith("grpo4j train: error: rank 1: the rendezvous at 127.0.0.1:"),
          alone.stderr());
    }
    // Two workers started by hand with different settings.
    int port = CollectivesTest.freePort();
    Map<String, String> rank0 = Map.of("RANK", "0", "WORLD_SIZE", "2", "MASTER_PORT", Integer.toString(port));
    Map<String, String> rank1 = Map.of("RANK", "1", "WORLD_SIZE", "2", "MASTER_PORT", Integer.toString(port));
    String[] args = {"train", "--model", "tiny-llama", "--train", data.train().toString(), "--steps", "1",
        "--dist-timeout", "30", "--threads", "1", "--out", tmp.resolve("e").toString()};
    try (ChildJvm first = ChildJvm.grpo4j(tmp, "r0", rank0, List.of(), args);
         ChildJvm second = ChildJvm.grpo4j(tmp, "r1", rank1, List.of(), concat(args, "--lr", "1"))) {
      assertEquals(DistributedException.EXIT_CODE, second.waitFor(Duration.ofSeconds(120)), second.output());
      assertTrue(second.stderr().contains("rank 1 runs with other settings than rank 0"), second.output());
      first.waitFor(Duration.ofSeconds(120));
    }
  }

  /** Waits (bounded) until the 2-worker job of {@code launcher} has checkpointed step {@code step}; its workers. */
  private static List<ProcessHandle> workersPastTheirFirstCheckpoint(ChildJvm launcher, Path run, int step)
      throws InterruptedException {
    Path firstCheckpoint = run.resolve(String.format("checkpoints/step-%08d/trainer_state.json", step));
    long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
    while (!Files.exists(firstCheckpoint) && launcher.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertTrue(Files.exists(firstCheckpoint), "a first checkpoint:\n" + launcher.output());
    List<ProcessHandle> workers = launcher.children();
    assertEquals(2, workers.size(), launcher.output());
    return workers;
  }

  /**
   * Trains {@code common} twice: into {@code one} as one process with 2 micro-batches of 2 pairs per step, into
   * {@code two} as 2 processes with a global batch of 4. Both must succeed.
   */
  private static CliRun[] oneAndTwoProcesses(TrainFixtures.Data data, String[] common, Path one, Path two)
      throws IOException {
    CliRun single = train(data, one, concat(common, "--batch-size", "2", "--grad-accumulation", "2", "--threads",
        "1"));
    assertEquals(0, single.exitCode(), single.err());
    CliRun parallel = train(data, two, concat(common, "--batch-size", "4", "--nproc-per-node", "2", "--threads", "2",
        "--master-port", Integer.toString(CollectivesTest.freePort()), "--dist-timeout", "60"));
    assertEquals(0, parallel.exitCode(), parallel.err());
    assertTrue(parallel.err().contains("starting 2 workers"), parallel.err());
    return new CliRun[] {single, parallel};
  }

  private static String[] concat(String[] a, String... b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
