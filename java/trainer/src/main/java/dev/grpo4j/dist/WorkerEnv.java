package dev.grpo4j.dist;

import java.util.Map;

/**
 * Where a worker stands in a data-parallel job, in torchrun's environment variables: {@code RANK},
 * {@code WORLD_SIZE}, {@code LOCAL_RANK}, {@code MASTER_ADDR}, {@code MASTER_PORT}. The launcher of
 * {@code grpo4j train --nproc-per-node N} sets them for its workers; any other launcher (a scheduler, a script)
 * may set them itself.
 *
 * @param rank this worker's rank in {@code [0, worldSize)}
 * @param worldSize workers in the job
 * @param localRank this worker's index on its machine
 * @param masterAddr the host rank 0 serves the rendezvous on
 * @param masterPort its port
 */
public record WorkerEnv(int rank, int worldSize, int localRank, String masterAddr, int masterPort) {
  public static final String RANK = "RANK";
  public static final String WORLD_SIZE = "WORLD_SIZE";
  public static final String LOCAL_RANK = "LOCAL_RANK";
  public static final String MASTER_ADDR = "MASTER_ADDR";
  public static final String MASTER_PORT = "MASTER_PORT";

  public WorkerEnv {
    if (worldSize < 1) {
      throw new IllegalArgumentException(WORLD_SIZE + " = " + worldSize + ": must be >= 1");
    }
    if (rank < 0 || rank >= worldSize) {
      throw new IllegalArgumentException(RANK + " = " + rank + ": must be in [0, " + WORLD_SIZE + " = " + worldSize
          + ")");
    }
    if (masterPort < 1 || masterPort > 65535) {
      throw new IllegalArgumentException(MASTER_PORT + " = " + masterPort + ": must be a TCP port in [1, 65535]");
    }
    if (masterAddr == null || masterAddr.isBlank()) {
      throw new IllegalArgumentException(MASTER_ADDR + " is empty: name the host of rank 0");
    }
  }

  /**
   * The worker settings of an environment, or null if it names no rank (a single process).
   *
   * @throws IllegalArgumentException naming the variable when one is set but malformed, or only some are set
   */
  public static WorkerEnv from(Map<String, String> env) {
    String rank = env.get(RANK);
    String world = env.get(WORLD_SIZE);
    if (rank == null && world == null) {
      return null;
    }
    if (rank == null || world == null) {
      throw new IllegalArgumentException("only one of " + RANK + " and " + WORLD_SIZE + " is set: a data-parallel "
          + "worker needs both (with " + MASTER_ADDR + " and " + MASTER_PORT + ")");
    }
    return new WorkerEnv(number(env, RANK, rank), number(env, WORLD_SIZE, world),
        env.containsKey(LOCAL_RANK) ? number(env, LOCAL_RANK, env.get(LOCAL_RANK)) : 0,
        env.getOrDefault(MASTER_ADDR, "127.0.0.1"), number(env, MASTER_PORT, env.getOrDefault(MASTER_PORT, "29500")));
  }

  /** The address Gloo binds this worker's connections to: loopback when the master is local, else the hostname. */
  String glooHost() {
    return masterAddr.equals("127.0.0.1") || masterAddr.equals("localhost") ? "127.0.0.1" : localHostName();
  }

  private static String localHostName() {
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.net.UnknownHostException e) {
      return "127.0.0.1";
    }
  }

  private static int number(Map<String, String> env, String name, String value) {
    try {
      return Integer.parseInt(value.strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " = \"" + value + "\" is not a whole number");
    }
  }
}
