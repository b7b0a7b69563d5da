package dev.grpo4j.dist;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.PrintWriter;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * The launcher's SIGINT and SIGTERM while its workers run: each signal is passed on to every worker, once, as the
 * same signal. The workers run in sessions of their own ({@link Launcher}), so a terminal's Ctrl-C, which goes to
 * the whole foreground process group, reaches the launcher alone: the workers get exactly one SIGINT, make the
 * stop-and-checkpoint they agree on, and exit with 130; a second Ctrl-C stops them at once, as it stops one
 * process. Without this the JVM's default handler would end the launcher and its shutdown hook turn the request
 * into a SIGTERM, which the workers took for a second signal and died without their checkpoint.
 */
final class WorkerSignals implements AutoCloseable {
  private static final List<String> SIGNALS = List.of("INT", "TERM");
  private static final MethodHandle KILL = Linker.nativeLinker().downcallHandle(
      Linker.nativeLinker().defaultLookup().find("kill").orElseThrow(),
      FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

  private final List<Process> workers;
  private final PrintWriter err;
  private final List<Signal> signals = new ArrayList<>();
  private final List<SignalHandler> previous = new ArrayList<>();
  private volatile String received;

  WorkerSignals(List<Process> workers, PrintWriter err) {
    this.workers = workers;
    this.err = err;
    for (String name : SIGNALS) {
      Signal signal = new Signal(name);
      signals.add(signal);
      previous.add(Signal.handle(signal, this::pass));
    }
  }

  /** The first signal received, {@code "INT"} or {@code "TERM"}, or null: the workers are stopping on request. */
  String received() {
    return received;
  }

  private void pass(Signal signal) {
    if (received == null) {
      received = signal.getName();
      synchronized (err) {
        err.println("grpo4j train: SIG" + signal.getName() + ": asking the workers to stop after the current step and "
            + "write a checkpoint (send it again to stop them at once)");
        err.flush();
      }
    }
    synchronized (workers) {
      for (Process worker : workers) {
        if (worker.isAlive()) {
          send(worker.pid(), signal.getNumber());
        }
      }
    }
  }

  private static void send(long pid, int signal) {
    try {
      int ignored = (int) KILL.invokeExact((int) pid, signal);
    } catch (Throwable e) {
      throw new IllegalStateException("could not signal worker " + pid + ": " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    for (int i = 0; i < signals.size(); i++) {
      Signal.handle(signals.get(i), previous.get(i));
    }
  }
}
