package dev.grpo4j.bench;

/**
 * A benchmark shape {@code pairs x T x V}: B preference pairs (2B logits rows, TRL layout), T positions per row,
 * vocabulary V. Written as in the issue and the {@code @Param} values, e.g. {@code 8x512x32000}.
 */
record Shape(int pairs, int seqLen, int vocab) {
  static Shape parse(String text) {
    String[] parts = text.split("x");
    if (parts.length != 3) {
      throw new IllegalArgumentException("shape " + text + ": expected pairs x T x V, e.g. 8x512x32000");
    }
    return new Shape(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]), Integer.parseInt(parts[2]));
  }

  int rows() {
    return 2 * pairs;
  }

  /** Token positions per call, 2B * T. */
  long positions() {
    return (long) rows() * seqLen;
  }

  long elements() {
    return positions() * vocab;
  }

  @Override
  public String toString() {
    return pairs + "x" + seqLen + "x" + vocab;
  }
}
