package dev.grpo4j;

/** Element type of the label tokens. */
public enum LabelType {
  I32(4),
  I64(8);

  private final int bytes;

  LabelType(int bytes) {
    this.bytes = bytes;
  }

  /** Bytes per element. */
  public int bytes() {
    return bytes;
  }
}
