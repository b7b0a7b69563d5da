package dev.grpo4j.dist;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Starts this machine's workers of a data-parallel job (what torchrun does for Python) and watches them: each
 * worker is this same program in a new JVM with {@code RANK}, {@code WORLD_SIZE}, {@code LOCAL_RANK},
 * {@code MASTER_ADDR} and {@code MASTER_PORT} set, its output forwarded (rank 0's as it is, the others' behind a
 * {@code [rank r]} prefix). When a worker fails, the others are stopped (SIGTERM, then SIGKILL after a grace
 * period) and its exit code is returned. SIGINT or SIGTERM to the launcher (a terminal's Ctrl-C included) is passed
 * on to every worker once, which makes them checkpoint at the next step (they agree on the step) and exit
 * ({@link WorkerSignals}); should the launcher end otherwise, its shutdown hook sends them SIGTERM.
 */
public final class Launcher {
  /** How long stopped workers get before they are killed. */
  private static final Duration GRACE = Duration.ofSeconds(15);

  /**
   * Where this machine's workers go.
   *
   * @param nprocPerNode workers here
   * @param nnodes machines
   * @param nodeRank this machine's index
   * @param masterAddr node 0's address
   * @param masterPort its rendezvous port
   * @param threadsPerWorker CPU threads each worker is given
   */
  public record Plan(int nprocPerNode, int nnodes, int nodeRank, String masterAddr, int masterPort,
                     int threadsPerWorker) {
    public int worldSize() {
      return nprocPerNode * nnodes;
    }
  }

  private Launcher() {}

  /**
   * Runs the workers of {@code plan}, each with {@code arguments} (the command line after the program; the
   * launcher options may stay in it: workers ignore them) and {@code --threads} replaced by the worker's share.
   *
   * @return 0 when every worker succeeded, else the first failing worker's exit code
   */
  public static int run(Plan plan, String mainClass, List<String> arguments, PrintWriter out, PrintWriter err)
      throws IOException, InterruptedException {
    List<Process> workers = new ArrayList<>();
    List<Thread> pumps = new ArrayList<>();
    Thread stopper = new Thread(() -> stop(workers, err));
    Runtime.getRuntime().addShutdownHook(stopper);
    try (WorkerSignals signals = new WorkerSignals(workers, err)) {
      for (int local = 0; local < plan.nprocPerNode() && signals.received() == null; local++) {
        int rank = plan.nodeRank() * plan.nprocPerNode() + local;
        ProcessBuilder builder = new ProcessBuilder(command(mainClass, withThreads(arguments,
            plan.threadsPerWorker())));
        Map<String, String> env = builder.environment();
        env.put(WorkerEnv.RANK, Integer.toString(rank));
        env.put(WorkerEnv.WORLD_SIZE, Integer.toString(plan.worldSize()));
        env.put(WorkerEnv.LOCAL_RANK, Integer.toString(local));
        env.put(WorkerEnv.MASTER_ADDR, plan.masterAddr());
        env.put(WorkerEnv.MASTER_PORT, Integer.toString(plan.masterPort()));
        env.put(LauncherWatch.LAUNCHER_PID, Long.toString(ProcessHandle.current().pid()));
        // Thread pools sized at library load (OpenBLAS, OpenMP, MKL's count) take the worker's share of the cores.
        env.putIfAbsent("OPENBLAS_NUM_THREADS", Integer.toString(plan.threadsPerWorker()));
        env.putIfAbsent("MKL_NUM_THREADS", Integer.toString(plan.threadsPerWorker()));
        env.putIfAbsent("OMP_NUM_THREADS", Integer.toString(plan.threadsPerWorker()));
        Process worker;
        synchronized (workers) {
          worker = builder.start();
          workers.add(worker);
        }
        String prefix = rank == 0 ? "" : "[rank " + rank + "] ";
        pumps.add(pump(worker.getInputStream(), rank == 0 ? out : err, prefix));
        pumps.add(pump(worker.getErrorStream(), err, prefix));
      }
      int result = supervise(workers, signals, err);
      for (Thread pump : pumps) {
        pump.join(TimeUnit.SECONDS.toMillis(10));
      }
      return result;
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(stopper);
      } catch (IllegalStateException shuttingDown) {
        // The hook runs (or ran) already.
      }
    }
  }

  /**
   * Waits for the workers; the first failure stops the rest. Once a signal asked them to stop, they all finish their
   * agreed checkpoint and exit on their own, with 128 + the signal's number: nobody is stopped early then.
   */
  private static int supervise(List<Process> workers, WorkerSignals signals, PrintWriter err)
      throws InterruptedException {
    while (true) {
      boolean allDone = true;
      int stoppedCode = 0;
      for (int i = 0; i < workers.size(); i++) {
        Process worker = workers.get(i);
        if (worker.isAlive()) {
          allDone = false;
          continue;
        }
        int code = worker.exitValue();
        if (signals.received() != null) {
          stoppedCode = stoppedCode != 0 ? stoppedCode : code;
          continue;
        }
        if (code != 0) {
          err.println("grpo4j: worker " + i + " on this machine exited with code " + code + "; stopping the others");
          err.flush();
          stop(workers, err);
          return code;
        }
      }
      if (allDone) {
        return stoppedCode;
      }
      Thread.sleep(100);
    }
  }

  private static void stop(List<Process> workers, PrintWriter err) {
    for (Process worker : workers) {
      if (worker.isAlive()) {
        worker.destroy();
      }
    }
    long deadline = System.nanoTime() + GRACE.toNanos();
    for (Process worker : workers) {
      try {
        long left = Math.max(0, deadline - System.nanoTime());
        if (!worker.waitFor(left, TimeUnit.NANOSECONDS)) {
          worker.destroyForcibly();
        }
      } catch (InterruptedException e) {
        worker.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }

  private static Thread pump(InputStream stream, PrintWriter target, String prefix) {
    return Thread.ofPlatform().daemon().start(() -> {
      try (BufferedReader lines = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
        String line;
        while ((line = lines.readLine()) != null) {
          synchronized (target) {
            target.println(prefix + line);
            target.flush();
          }
        }
      } catch (IOException e) {
        // The worker is gone; its exit code tells the rest.
      }
    });
  }

  /**
   * This JVM's command for {@code mainClass}: the same java, JVM options and class path; in a session of its own
   * where {@code setsid} is at hand, so that a terminal's Ctrl-C reaches the launcher only ({@link WorkerSignals}).
   */
  private static List<String> command(String mainClass, List<String> arguments) {
    List<String> command = new ArrayList<>();
    Stream.of("/usr/bin/setsid", "/bin/setsid").map(Path::of).filter(Files::isExecutable).findFirst()
        .ifPresent(setsid -> command.add(setsid.toString()));
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    for (String option : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      // A debugger agent would make every worker listen on the same port.
      if (!option.startsWith("-agentlib:jdwp") && !option.startsWith("-javaagent")) {
        command.add(option);
      }
    }
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(mainClass);
    command.addAll(arguments);
    return command;
  }

  /** {@code arguments} with any {@code --threads} replaced by {@code threads}. */
  static List<String> withThreads(List<String> arguments, int threads) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < arguments.size(); i++) {
      String a = arguments.get(i);
      if (a.equals("--threads")) {
        i++;
        continue;
      }
      if (a.startsWith("--threads=")) {
        continue;
      }
      out.add(a);
    }
    out.add("--threads");
    out.add(Integer.toString(threads));
    return out;
  }
}
