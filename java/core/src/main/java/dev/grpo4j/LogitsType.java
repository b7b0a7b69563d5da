package dev.grpo4j;

/** Element type of the logits, and of the gradient written back. Accumulation is always fp32 or wider. */
public enum LogitsType {
  F32(0, 4),
  BF16(1, 2),
  F16(2, 2);

  private final int abiCode;
  private final int bytes;

  LogitsType(int abiCode, int bytes) {
    this.abiCode = abiCode;
    this.bytes = bytes;
  }

  /** Bytes per element. */
  public int bytes() {
    return bytes;
  }

  /** Its value in {@code grpo4j.h}: fixed there, whatever the order of the constants here. */
  int abiCode() {
    return abiCode;
  }
}
