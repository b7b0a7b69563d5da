package dev.grpo4j.dist;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.Optional;

/**
 * Ends a worker as soon as the launcher that started it is gone. A launcher killed with {@code SIGKILL} gets no
 * chance to stop its workers, and without this they would train on (and write into the run folder) until a
 * collective timed out. The worker notices that its parent process is no longer the launcher (the kernel hands an
 * orphan to another parent) and halts at once: checkpoints are written into a hidden folder and renamed into place,
 * and an incomplete last line of the metrics files is dropped on resume, so the last checkpoint stays intact.
 */
public final class LauncherWatch {
  /** Environment variable through which the launcher tells its workers its process id. */
  public static final String LAUNCHER_PID = "GRPO4J_LAUNCHER_PID";
  private static final Duration POLL = Duration.ofMillis(200);

  private LauncherWatch() {}

  /**
   * Starts watching when {@code launcherPid} (the {@value #LAUNCHER_PID} variable, null for a worker started by
   * hand) names this process's parent; does nothing otherwise.
   *
   * @param rank this worker's rank, for the message
   * @param err where the one line goes before the process halts
   */
  public static void start(String launcherPid, int rank, PrintWriter err) {
    if (launcherPid == null) {
      return;
    }
    long pid;
    try {
      pid = Long.parseLong(launcherPid.strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(LAUNCHER_PID + " = \"" + launcherPid + "\" is not a process id");
    }
    if (parentPid().filter(parent -> parent == pid).isEmpty()) {
      return;
    }
    Thread.ofPlatform().daemon().name("grpo4j-launcher-watch").start(() -> {
      while (parentPid().filter(parent -> parent == pid).isPresent()) {
        try {
          Thread.sleep(POLL);
        } catch (InterruptedException e) {
          return;
        }
      }
      err.println("grpo4j train: rank " + rank + ": the launcher (process " + pid + ") is gone; stopping now. The "
          + "last checkpoint is intact: continue with grpo4j train --resume --out <the run folder>");
      err.flush();
      Runtime.getRuntime().halt(DistributedException.EXIT_CODE);
    });
  }

  private static Optional<Long> parentPid() {
    return ProcessHandle.current().parent().map(ProcessHandle::pid);
  }
}
