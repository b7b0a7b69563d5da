package dev.grpo4j;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One batch of B preference pairs laid out TRL-style: {@code tokens} has 2B rows, rows {@code [0, B)} the
 * chosen responses and rows {@code [B, 2B)} the rejected ones of the same pairs.
 *
 * @param tokens policy logits and labels, {@code 2B} rows
 * @param refLogps reference-model sequence log-probs, {@code [2B]} fp32, same row order
 * @param groupIds labeller group of each pair, {@code [B]} int32 in {@code [0, K)}
 */
public record PreferenceBatch(TokenLogits tokens, MemorySegment refLogps, MemorySegment groupIds) {
  public PreferenceBatch {
    Objects.requireNonNull(tokens, "tokens");
    if (tokens.rows() % 2 != 0) {
      throw new IllegalArgumentException("tokens.rows = " + tokens.rows()
          + " is odd: a preference batch holds 2B rows (B chosen rows, then the B rejected rows)");
    }
    Segments.requirePresent(refLogps, "refLogps");
    Segments.requirePresent(groupIds, "groupIds");
  }

  /** Number of pairs B. */
  public int numPairs() {
    return tokens.rows() / 2;
  }

  void validate(Backend backend) {
    tokens.validate(backend);
    Segments.require(refLogps, "refLogps", 4L * tokens.rows(), 4, backend);
    Segments.require(groupIds, "groupIds", 4L * numPairs(), 4, backend);
  }
}
