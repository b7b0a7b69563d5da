package dev.grpo4j.train;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * SIGINT and SIGTERM as a request to stop after the current step, for as long as this object is open: a training
 * loop polls {@link #requested()}, writes a checkpoint and exits with {@link #exitCode()} (130 or 143, the codes a
 * shell expects for those signals). A second signal ends the process at once. Closing restores the previous
 * handlers, so a signal outside the loop (model loading, reference scoring) ends the process as usual.
 */
public final class StopSignals implements AutoCloseable {
  private static final Map<String, Integer> NUMBERS = Map.of("INT", 2, "TERM", 15);

  private final List<Installed> installed = new ArrayList<>();
  private volatile String received;

  private record Installed(Signal signal, SignalHandler previous) {}

  /** Installs the handlers. */
  public StopSignals() {
    for (String name : NUMBERS.keySet()) {
      Signal signal = new Signal(name);
      installed.add(new Installed(signal, Signal.handle(signal, this::onSignal)));
    }
  }

  private void onSignal(Signal signal) {
    if (received != null) {
      System.err.println("\ngrpo4j: second SIG" + signal.getName() + ": stopping now, without a checkpoint");
      System.exit(128 + signal.getNumber());
    }
    received = signal.getName();
    System.err.println("\ngrpo4j: SIG" + signal.getName() + ": stopping after the current step and writing a "
        + "checkpoint (send it again to stop at once)");
  }

  /** Whether a stop was requested. */
  public boolean requested() {
    return received != null;
  }

  /** The signal received, {@code "INT"} or {@code "TERM"}, or null. */
  public String signal() {
    return received;
  }

  /** 128 + the signal number of the request; 0 when none came. */
  public int exitCode() {
    return received == null ? 0 : 128 + NUMBERS.get(received);
  }

  @Override
  public void close() {
    for (Installed i : installed) {
      Signal.handle(i.signal(), i.previous());
    }
  }
}
