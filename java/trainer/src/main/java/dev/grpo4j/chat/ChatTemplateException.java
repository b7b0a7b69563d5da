package dev.grpo4j.chat;

/**
 * A chat template that cannot be read or rendered, or that refused the messages it was given (its
 * {@code raise_exception}). The message names the template's file and line.
 */
public final class ChatTemplateException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String origin;
  private final int line;

  ChatTemplateException(String origin, int line, String what) {
    super(origin + (line > 0 ? " line " + line : "") + ": " + what);
    this.origin = origin;
    this.line = line;
  }

  ChatTemplateException(String origin, int line, String what, Throwable cause) {
    this(origin, line, what);
    initCause(cause);
  }

  /** Where the template came from: a file, or a file and the JSON key that holds it. */
  public String origin() {
    return origin;
  }

  /** The 1-based template line the problem is on, or 0 when it concerns the template as a whole. */
  public int line() {
    return line;
  }
}
