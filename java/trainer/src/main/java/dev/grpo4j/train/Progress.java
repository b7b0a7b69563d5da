package dev.grpo4j.train;

import java.io.Console;
import java.io.PrintStream;
import java.time.Duration;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * The commands' progress bars on standard error: a redrawn bar on a terminal; on anything else (a log file, a
 * pipe, CI) plain ASCII lines, one every {@link #PLAIN_INTERVAL} and one at the end, without carriage returns or
 * colour codes, so a log shows each state once.
 */
public final class Progress {
  static final Duration PLAIN_INTERVAL = Duration.ofSeconds(30);

  private Progress() {}

  /**
   * A bar for {@code max} units, starting at {@code done} units after {@code elapsed} (a resumed run).
   *
   * @param unit the unit after the counts, e.g. {@code " steps"}
   */
  public static ProgressBar bar(String task, long max, String unit, long done, Duration elapsed) {
    return bar(task, max, unit, done, elapsed, System.err, isTerminal(), PLAIN_INTERVAL);
  }

  public static ProgressBar bar(String task, long max, String unit) {
    return bar(task, max, unit, 0, Duration.ZERO);
  }

  /** A bar on {@code err}: redrawn when {@code terminal}, else plain lines at most one per {@code interval}. */
  static ProgressBar bar(String task, long max, String unit, long done, Duration elapsed, PrintStream err,
                         boolean terminal, Duration interval) {
    ProgressBarBuilder builder = new ProgressBarBuilder().setTaskName(task).setInitialMax(max).setUnit(unit, 1)
        .startsFrom(done, elapsed);
    if (terminal) {
      return builder.setConsumer(new ConsoleProgressBarConsumer(err)).continuousUpdate().build();
    }
    return builder.setStyle(ProgressBarStyle.ASCII).setConsumer(new PlainLines(err, interval)).build();
  }

  /** Whether standard error is an interactive terminal (Java 22+: a redirected stream is not). */
  public static boolean isTerminal() {
    Console console = System.console();
    return console != null && console.isTerminal();
  }

  /** Prints the rendered bar as a line, at most once per interval, and the last state when the bar closes. */
  private static final class PlainLines implements ProgressBarConsumer {
    private final PrintStream out;
    private final long intervalNanos;
    private long lastPrinted = Long.MIN_VALUE;
    private String latest;
    private String printed;

    PlainLines(PrintStream out, Duration interval) {
      this.out = out;
      this.intervalNanos = interval.toNanos();
    }

    @Override
    public int getMaxRenderedLength() {
      return 120;
    }

    @Override
    public void accept(String rendered) {
      latest = rendered.strip();
      long now = System.nanoTime();
      if (lastPrinted == Long.MIN_VALUE || now - lastPrinted >= intervalNanos) {
        print(now);
      }
    }

    @Override
    public void close() {
      if (latest != null && !latest.equals(printed)) {
        print(System.nanoTime());
      }
      out.flush();
    }

    private void print(long now) {
      out.println(latest);
      printed = latest;
      lastPrinted = now;
    }
  }
}
