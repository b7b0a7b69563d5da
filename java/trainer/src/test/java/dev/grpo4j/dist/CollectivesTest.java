package dev.grpo4j.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.cli.ChildJvm;
import dev.grpo4j.platform.LibTorch;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two ranks on 127.0.0.1 in child JVMs: sums, gathers, broadcasts, the configuration check, and a rank that joins
 * alone failing within its timeout.
 */
public class CollectivesTest {
  @TempDir
  Path tmp;

  public static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  /** One rank's program: prints what the collectives returned. */
  public static final class Probe {
    public static void main(String[] args) {
      LibTorch.load();
      WorkerEnv env = WorkerEnv.from(System.getenv());
      try (Collectives c = Collectives.connect(env, Duration.ofSeconds(Long.parseLong(args[0])))) {
        c.requireSameConfiguration(args.length > 1 ? args[1] : "same", "settings");
        double[] sum = {env.rank() + 1, 0.5};
        c.allReduceSum(sum);
        double[][] gathered = c.allGather(new double[] {10 * env.rank(), 10 * env.rank() + 1});
        float[] broadcast = env.rank() == 0 ? new float[] {3, 4} : new float[] {0, 0};
        c.broadcast(broadcast, 0);
        boolean any = c.anyTrue(env.rank() == 1);
        c.barrier();
        System.out.println("sum " + Arrays.toString(sum) + " gathered " + Arrays.deepToString(gathered)
            + " broadcast " + Arrays.toString(broadcast) + " any " + any);
      } catch (DistributedException e) {
        System.err.println(e.getMessage());
        System.exit(DistributedException.EXIT_CODE);
      }
    }
  }

  private ChildJvm rank(int rank, int world, int port, String... args) {
    return ChildJvm.start(tmp, "rank" + rank + "-" + port, Map.of(WorkerEnv.RANK, "" + rank, WorkerEnv.WORLD_SIZE,
        "" + world, WorkerEnv.MASTER_ADDR, "127.0.0.1", WorkerEnv.MASTER_PORT, "" + port), List.of(),
        Probe.class.getName(), args);
  }

  @Test
  void twoRanksSumGatherAndBroadcast() throws IOException {
    int port = freePort();
    try (ChildJvm r0 = rank(0, 2, port, "60"); ChildJvm r1 = rank(1, 2, port, "60")) {
      assertEquals(0, r0.waitFor(Duration.ofSeconds(120)), r0.output());
      assertEquals(0, r1.waitFor(Duration.ofSeconds(120)), r1.output());
      String expected = "sum [3.0, 1.0] gathered [[0.0, 1.0], [10.0, 11.0]] broadcast [3.0, 4.0] any true";
      assertTrue(r0.stdout().contains(expected), r0.output());
      assertTrue(r1.stdout().contains(expected), r1.output());
    }
  }

  @Test
  void differentSettingsAndMissingRanksFailWithAMessage() throws IOException {
    int port = freePort();
    try (ChildJvm r0 = rank(0, 2, port, "60", "a"); ChildJvm r1 = rank(1, 2, port, "60", "b")) {
      assertEquals(DistributedException.EXIT_CODE, r1.waitFor(Duration.ofSeconds(120)), r1.output());
      assertTrue(r1.stderr().contains("rank 1 runs with other settings than rank 0"), r1.output());
      r0.waitFor(Duration.ofSeconds(120));
    }
    long start = System.nanoTime();
    try (ChildJvm alone = rank(0, 2, freePort(), "5")) {
      assertEquals(DistributedException.EXIT_CODE, alone.waitFor(Duration.ofSeconds(120)), alone.output());
      assertTrue(alone.stderr().contains("not all 2 ranks joined within 5 s"), alone.output());
    }
    assertTrue(System.nanoTime() - start < Duration.ofSeconds(60).toNanos(), "bounded by the timeout");
  }
}
