package dev.grpo4j;

/** Element type of the label tokens. */
public enum LabelType {
  I32(0, 4),
  I64(1, 8);

  private final int abiCode;
  private final int bytes;

  LabelType(int abiCode, int bytes) {
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
