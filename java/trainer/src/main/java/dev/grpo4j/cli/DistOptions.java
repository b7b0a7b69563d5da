package dev.grpo4j.cli;

import picocli.CommandLine.Option;

/**
 * How {@code train} runs data-parallel, in torchrun's terms: {@code --nproc-per-node} workers on each of
 * {@code --nnodes} machines, this one being {@code --node-rank}, meeting at {@code --master-addr:--master-port}.
 */
final class DistOptions {
  static final int DEFAULT_PORT = 29500;
  static final long DEFAULT_TIMEOUT_SECONDS = 300;

  @Option(names = "--nproc-per-node", defaultValue = "1", paramLabel = "N",
      description = "Data-parallel worker processes on this machine; grpo4j starts them (default: ${DEFAULT-VALUE}).")
  int nprocPerNode;

  @Option(names = "--nnodes", defaultValue = "1", paramLabel = "N",
      description = "Machines in the job, each started with the same command (default: ${DEFAULT-VALUE}).")
  int nnodes;

  @Option(names = "--node-rank", defaultValue = "0", paramLabel = "I",
      description = "This machine's index in [0, --nnodes); node 0 hosts rank 0 (default: ${DEFAULT-VALUE}).")
  int nodeRank;

  @Option(names = "--master-addr", defaultValue = "127.0.0.1", paramLabel = "HOST",
      description = "Address of node 0, where rank 0 serves the rendezvous (default: ${DEFAULT-VALUE}).")
  String masterAddr;

  @Option(names = "--master-port", defaultValue = "" + DEFAULT_PORT, paramLabel = "PORT",
      description = "Its TCP port (default: ${DEFAULT-VALUE}).")
  int masterPort;

  @Option(names = "--dist-timeout", defaultValue = "" + DEFAULT_TIMEOUT_SECONDS, paramLabel = "SECONDS",
      description = "How long a rank waits for the others in the rendezvous and in every collective before it "
          + "gives up with an error naming the step (default: ${DEFAULT-VALUE}).")
  long timeoutSeconds;

  /** Workers of the whole job. */
  int worldSize() {
    return nprocPerNode * nnodes;
  }

  /** Checks the values; messages name the option. */
  void validate() {
    if (nprocPerNode < 1) {
      throw new IllegalArgumentException("--nproc-per-node = " + nprocPerNode + ": must be >= 1");
    }
    if (nnodes < 1) {
      throw new IllegalArgumentException("--nnodes = " + nnodes + ": must be >= 1");
    }
    if (nodeRank < 0 || nodeRank >= nnodes) {
      throw new IllegalArgumentException("--node-rank = " + nodeRank + ": must be in [0, --nnodes = " + nnodes + ")");
    }
    if (masterPort < 1 || masterPort > 65535) {
      throw new IllegalArgumentException("--master-port = " + masterPort + ": must be a TCP port in [1, 65535]");
    }
    if (timeoutSeconds < 1) {
      throw new IllegalArgumentException("--dist-timeout = " + timeoutSeconds + ": must be >= 1 second");
    }
  }
}
