package dev.grpo4j;

/**
 * A failure inside the native kernels that is not the caller's input: a CUDA error, host or device memory
 * exhausted, or an internal error. Bad inputs raise {@link IllegalArgumentException} instead.
 */
public final class NativeKernelException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int status;

  public NativeKernelException(int status, String message) {
    super(message);
    this.status = status;
  }

  /** The grpo4j_status code the native call returned. */
  public int status() {
    return status;
  }
}
