package dev.grpo4j.report;

import java.nio.file.Path;

/**
 * A line of {@code metrics.jsonl} or {@code eval.jsonl} that is not a valid record. The message starts with
 * {@code file:line:} as compilers write them, so editors can jump to the place.
 */
public final class RunLogFormatException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final transient Path file;
  private final long line;

  /**
   * A malformed line.
   *
   * @param file the file read
   * @param line 1-based line number
   * @param problem what is wrong with the line, without the {@code file:line:} prefix
   * @param cause the parser's exception, or {@code null}
   */
  public RunLogFormatException(Path file, long line, String problem, Throwable cause) {
    super(file + ":" + line + ": " + problem, cause);
    this.file = file;
    this.line = line;
  }

  /** The file read. */
  public Path file() {
    return file;
  }

  /** The 1-based number of the malformed line. */
  public long line() {
    return line;
  }
}
