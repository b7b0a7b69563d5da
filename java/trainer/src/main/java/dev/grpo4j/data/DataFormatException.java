package dev.grpo4j.data;

/**
 * A preference data file that cannot be read as preference pairs; the message starts with {@code file:line:}
 * (or {@code file:} for the file as a whole) as compilers write them, so editors can jump to the place.
 */
public final class DataFormatException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  /**
   * A problem found by the reader itself.
   *
   * @param message {@code file:line: what is wrong}, or {@code file: what is wrong}
   */
  public DataFormatException(String message) {
    super(message);
  }

  /**
   * A problem the JSON parser found.
   *
   * @param message {@code file:line: what is wrong}, or {@code file: what is wrong}
   * @param cause the parser's exception
   */
  public DataFormatException(String message, Throwable cause) {
    super(message, cause);
  }
}
