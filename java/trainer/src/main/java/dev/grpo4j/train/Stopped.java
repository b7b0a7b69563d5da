package dev.grpo4j.train;

import java.nio.file.Path;

/** A run stopped early on a signal, after writing the checkpoint of {@link #step()} into {@link #checkpoint()}. */
public final class Stopped extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final transient String signal;
  private final int exitCode;
  private final int step;
  private final transient Path checkpoint;

  /**
   * @param signal {@code INT} or {@code TERM}
   * @param exitCode 128 + the signal's number
   * @param checkpoint the checkpoint's folder; null on ranks other than 0, which write none
   */
  Stopped(String signal, int exitCode, int step, Path checkpoint) {
    super("stopped by SIG" + signal + " after step " + step);
    this.signal = signal;
    this.exitCode = exitCode;
    this.step = step;
    this.checkpoint = checkpoint;
  }

  public String signal() {
    return signal;
  }

  public int exitCode() {
    return exitCode;
  }

  public int step() {
    return step;
  }

  public Path checkpoint() {
    return checkpoint;
  }
}
