package dev.grpo4j;

/** Element type of the logits, and of the gradient written back. Accumulation is always fp32 or wider. */
public enum LogitsType {
  F32(4),
  BF16(2),
  F16(2);

  private final int bytes;

  LogitsType(int bytes) {
    this.bytes = bytes;
  }

  /** Bytes per element. */
  public int bytes() {
    return bytes;
  }
}
