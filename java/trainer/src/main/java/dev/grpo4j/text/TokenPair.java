package dev.grpo4j.text;

import java.util.Arrays;

/**
 * One preference pair as token ids: the prompt, the chosen and the rejected response (each without the prompt),
 * and the labeller group.
 *
 * @param group labeller group in {@code [0, K)}
 * @param prompt prompt tokens, at least one
 * @param chosen preferred response tokens, at least one
 * @param rejected other response tokens, at least one
 */
public record TokenPair(int group, int[] prompt, int[] chosen, int[] rejected) {
  public TokenPair {
    if (group < 0) {
      throw new IllegalArgumentException("group = " + group + ": must be >= 0");
    }
    if (prompt.length == 0 || chosen.length == 0 || rejected.length == 0) {
      throw new IllegalArgumentException("prompt, chosen and rejected need at least one token each");
    }
    prompt = prompt.clone();
    chosen = chosen.clone();
    rejected = rejected.clone();
  }

  /** The pair as bytes (one token per byte value, as {@link dev.grpo4j.text.ByteTextTokenizer} encodes them). */
  public static TokenPair ofBytes(int group, byte[] prompt, byte[] chosen, byte[] rejected) {
    return new TokenPair(group, unsigned(prompt), unsigned(chosen), unsigned(rejected));
  }

  @Override
  public int[] prompt() {
    return prompt.clone();
  }

  @Override
  public int[] chosen() {
    return chosen.clone();
  }

  @Override
  public int[] rejected() {
    return rejected.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TokenPair p && group == p.group && Arrays.equals(prompt, p.prompt)
        && Arrays.equals(chosen, p.chosen) && Arrays.equals(rejected, p.rejected);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * (31 * group + Arrays.hashCode(prompt)) + Arrays.hashCode(chosen)) + Arrays.hashCode(rejected);
  }

  @Override
  public String toString() {
    return "TokenPair[group=" + group + ", prompt=" + Arrays.toString(prompt) + ", chosen=" + Arrays.toString(chosen)
        + ", rejected=" + Arrays.toString(rejected) + "]";
  }

  private static int[] unsigned(byte[] bytes) {
    int[] out = new int[bytes.length];
    for (int i = 0; i < bytes.length; i++) {
      out[i] = Byte.toUnsignedInt(bytes[i]);
    }
    return out;
  }
}
