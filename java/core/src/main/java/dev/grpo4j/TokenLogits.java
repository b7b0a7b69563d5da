package dev.grpo4j;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;

/**
 * Policy logits {@code [rows, seqLen, vocab]} with their labels {@code [rows, seqLen]}, both contiguous
 * row-major. {@code labels[r][t]} is the token that position t of row r predicts (already shifted);
 * {@link #IGNORE_INDEX} masks a position (prompt, padding).
 *
 * @param logits logits segment: host memory for {@link Backend#CPU}, a device address for {@link Backend#CUDA}
 * @param logitsType element type of {@code logits}
 * @param labels labels segment, same memory space as {@code logits}
 * @param labelType element type of {@code labels}
 * @param rows number of sequences
 * @param seqLen positions per sequence
 * @param vocab vocabulary size
 */
public record TokenLogits(MemorySegment logits, LogitsType logitsType, MemorySegment labels, LabelType labelType,
                          int rows, int seqLen, int vocab) {
  /** Label value that masks a position (the Hugging Face convention). */
  public static final int IGNORE_INDEX = -100;

  public TokenLogits {
    Objects.requireNonNull(logitsType, "logitsType");
    Objects.requireNonNull(labelType, "labelType");
    if (rows < 1) {
      throw new IllegalArgumentException("rows = " + rows + ": need at least one sequence");
    }
    if (seqLen < 1) {
      throw new IllegalArgumentException("seqLen = " + seqLen + ": need at least one position per sequence");
    }
    if (vocab < 1) {
      throw new IllegalArgumentException("vocab = " + vocab + ": the vocabulary size must be >= 1");
    }
    Segments.requirePresent(logits, "logits");
    Segments.requirePresent(labels, "labels");
  }

  /** Number of logits elements, {@code rows * seqLen * vocab}. */
  public long elements() {
    return (long) rows * seqLen * vocab;
  }

  /** Bytes the logits occupy (and a gradient buffer must hold). */
  public long logitsBytes() {
    return elements() * logitsType.bytes();
  }

  /** Bytes the labels occupy. */
  public long labelBytes() {
    return (long) rows * seqLen * labelType.bytes();
  }

  void validate(Backend backend) {
    Segments.require(logits, "logits", logitsBytes(), logitsType.bytes(), backend, false);
    Segments.require(labels, "labels", labelBytes(), labelType.bytes(), backend, false);
    Segments.requireDisjoint(uses(), null);
  }

  List<Segments.Use> uses() {
    return List.of(new Segments.Use("logits", logits, logitsBytes(), false),
        new Segments.Use("labels", labels, labelBytes(), false));
  }
}
