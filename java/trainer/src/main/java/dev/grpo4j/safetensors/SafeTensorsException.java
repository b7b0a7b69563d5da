package dev.grpo4j.safetensors;

/**
 * A safetensors file, checkpoint folder or tensor map that is malformed or does not fit the request: a corrupt or
 * truncated file, an unknown tensor name, a shape that does not match the target tensor.
 *
 * <p>It is an {@link IllegalArgumentException} because in each case the input given (the file, the name, the
 * tensor) is what is wrong. Failures of the file system itself (a missing file, a full disk) are reported as
 * {@link java.io.UncheckedIOException} instead.
 */
public class SafeTensorsException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  /** An error described by {@code message}, which names the file or tensor and says how to fix it. */
  public SafeTensorsException(String message) {
    super(message);
  }

  /** An error described by {@code message}, caused by {@code cause} (e.g. the JSON parser's error). */
  public SafeTensorsException(String message, Throwable cause) {
    super(message, cause);
  }
}
