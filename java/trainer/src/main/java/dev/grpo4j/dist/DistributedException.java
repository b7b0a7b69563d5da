package dev.grpo4j.dist;

/** A data-parallel job that cannot go on: a rank missing, stuck or configured differently. */
public final class DistributedException extends RuntimeException {
  /** The exit code of a rank that gives up on the job (EX_UNAVAILABLE of sysexits.h). */
  public static final int EXIT_CODE = 69;
  private static final long serialVersionUID = 1L;

  public DistributedException(String message) {
    super(message);
  }

  public DistributedException(String message, Throwable cause) {
    super(message, cause);
  }
}
