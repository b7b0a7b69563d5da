package dev.grpo4j;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One batch of B preference pairs laid out TRL-style: {@code tokens} has 2B rows, rows {@code [0, B)} the
 * chosen responses and rows {@code [B, 2B)} the rejected ones of the same pairs.
 *
 * <p>From Java arrays, {@link #builder} copies everything into off-heap memory in one call, with the element types
 * following from the arrays given:
 *
 * <pre>{@code
 * PreferenceBatch batch = PreferenceBatch.builder(pairs, seqLen, vocab)
 *     .logits(logitsF32)            // float[2B*T*V]; or bf16Logits(short[]), f16Logits(short[])
 *     .labels(labels)               // long[2B*T] or int[2B*T], -100 masks
 *     .refLogps(refLogps)           // float[2B]
 *     .groupIds(groupIds)           // int[B]
 *     .build(arena);
 * }</pre>
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

  /** A builder of a batch of {@code pairs} pairs, {@code seqLen} positions per row, vocabulary {@code vocab}. */
  public static Builder builder(int pairs, int seqLen, int vocab) {
    return new Builder(pairs, seqLen, vocab);
  }

  /**
   * Collects a batch's data from arrays (copied into an arena by {@link #build}) or direct {@link ByteBuffer}s in
   * the platform's byte order (used where they are, without a copy). Each array's length must be exactly what the
   * shape says; the logits' and labels' element types are those of the arrays or buffers given.
   */
  public static final class Builder {
    private final int pairs;
    private final int seqLen;
    private final int vocab;
    private final long positions;
    private Object logits;
    private LogitsType logitsType;
    private Object labels;
    private LabelType labelType;
    private Object refLogps;
    private Object groupIds;

    private Builder(int pairs, int seqLen, int vocab) {
      if (pairs < 1 || seqLen < 1 || vocab < 1) {
        throw new IllegalArgumentException("pairs = " + pairs + ", seqLen = " + seqLen + ", vocab = " + vocab
            + ": each must be >= 1");
      }
      this.pairs = pairs;
      this.seqLen = seqLen;
      this.vocab = vocab;
      this.positions = 2L * pairs * seqLen;
    }

    /** f32 logits, {@code [2B, T, V]} row-major. */
    public Builder logits(float[] values) {
      return logits(values, values == null ? -1 : values.length, LogitsType.F32);
    }

    /** bf16 logits as bits ({@link BFloat16}), {@code [2B, T, V]} row-major. */
    public Builder bf16Logits(short[] bits) {
      return logits(bits, bits == null ? -1 : bits.length, LogitsType.BF16);
    }

    /** IEEE half-precision logits as bits ({@link Float#floatToFloat16}), {@code [2B, T, V]} row-major. */
    public Builder f16Logits(short[] bits) {
      return logits(bits, bits == null ? -1 : bits.length, LogitsType.F16);
    }

    /** Logits in a direct buffer of {@code type}, {@code [2B, T, V]} row-major, platform byte order. */
    public Builder logits(ByteBuffer buffer, LogitsType type) {
      Objects.requireNonNull(type, "type");
      return logits(buffer, buffer == null ? -1 : buffer.remaining() / type.bytes(), type);
    }

    /** int64 labels {@code [2B, T]}, {@link TokenLogits#IGNORE_INDEX} masks. */
    public Builder labels(long[] values) {
      return labels(values, values == null ? -1 : values.length, LabelType.I64);
    }

    /** int32 labels {@code [2B, T]}, {@link TokenLogits#IGNORE_INDEX} masks. */
    public Builder labels(int[] values) {
      return labels(values, values == null ? -1 : values.length, LabelType.I32);
    }

    /** Labels in a direct buffer of {@code type}, {@code [2B, T]}, platform byte order. */
    public Builder labels(ByteBuffer buffer, LabelType type) {
      Objects.requireNonNull(type, "type");
      return labels(buffer, buffer == null ? -1 : buffer.remaining() / type.bytes(), type);
    }

    /** Reference sequence log-probs {@code [2B]}: chosen rows, then rejected rows. */
    public Builder refLogps(float[] values) {
      requireLength("refLogps", values == null ? -1 : values.length, 2L * pairs);
      refLogps = values;
      return this;
    }

    /** Reference sequence log-probs {@code [2B]} f32 in a direct buffer, platform byte order. */
    public Builder refLogps(ByteBuffer buffer) {
      requireLength("refLogps", buffer == null ? -1 : buffer.remaining() / 4, 2L * pairs);
      refLogps = buffer;
      return this;
    }

    /** The group of each pair {@code [B]}, in {@code [0, K)}. */
    public Builder groupIds(int[] values) {
      requireLength("groupIds", values == null ? -1 : values.length, pairs);
      groupIds = values;
      return this;
    }

    /** The group of each pair {@code [B]} int32 in a direct buffer, platform byte order. */
    public Builder groupIds(ByteBuffer buffer) {
      requireLength("groupIds", buffer == null ? -1 : buffer.remaining() / 4, pairs);
      groupIds = buffer;
      return this;
    }

    /**
     * The batch, with every array copied into {@code arena} (which must stay open while the batch is used);
     * buffers are used in place.
     *
     * @throws IllegalArgumentException naming what is missing
     */
    public PreferenceBatch build(Arena arena) {
      Objects.requireNonNull(arena, "arena");
      for (Object[] part : new Object[][] {{"logits", logits}, {"labels", labels}, {"refLogps", refLogps},
          {"groupIds", groupIds}}) {
        if (part[1] == null) {
          throw new IllegalArgumentException(part[0] + " is not set: give it before build");
        }
      }
      TokenLogits tokens = new TokenLogits(segment(arena, logits), logitsType, segment(arena, labels), labelType,
          2 * pairs, seqLen, vocab);
      return new PreferenceBatch(tokens, segment(arena, refLogps), segment(arena, groupIds));
    }

    private Builder logits(Object data, long length, LogitsType type) {
      requireLength("logits", length, positions * vocab);
      logits = data;
      logitsType = type;
      return this;
    }

    private Builder labels(Object data, long length, LabelType type) {
      requireLength("labels", length, positions);
      labels = data;
      labelType = type;
      return this;
    }

    private void requireLength(String name, long length, long expected) {
      if (length < 0) {
        throw new IllegalArgumentException(name + " is null");
      }
      if (length != expected) {
        throw new IllegalArgumentException(name + " has " + length + " elements but the batch (" + pairs
            + " pairs, " + seqLen + " positions per row, vocabulary " + vocab + ") needs " + expected);
      }
    }

    private static MemorySegment segment(Arena arena, Object data) {
      return switch (data) {
        case float[] a -> arena.allocateFrom(ValueLayout.JAVA_FLOAT, a);
        case short[] a -> arena.allocateFrom(ValueLayout.JAVA_SHORT, a);
        case int[] a -> arena.allocateFrom(ValueLayout.JAVA_INT, a);
        case long[] a -> arena.allocateFrom(ValueLayout.JAVA_LONG, a);
        case ByteBuffer b -> {
          if (!b.isDirect()) {
            throw new IllegalArgumentException("a heap ByteBuffer cannot reach the native kernels: use "
                + "ByteBuffer.allocateDirect, or pass the array instead");
          }
          yield MemorySegment.ofBuffer(b);
        }
        default -> throw new IllegalStateException("unexpected data " + data.getClass());
      };
    }
  }

  @Override
  public String toString() {
    TokenLogits t = tokens;
    return "PreferenceBatch[pairs=" + numPairs() + ", seqLen=" + t.seqLen() + ", vocab=" + t.vocab() + ", logits="
        + t.logitsType() + ", labels=" + t.labelType() + "]";
  }

  /** Number of pairs B. */
  public int numPairs() {
    return tokens.rows() / 2;
  }

  /**
   * Checks every segment before a call; {@code grad}, when not null, is the segment the gradient goes to, which may
   * be the logits segment itself and must not overlap anything else.
   */
  void validate(Backend backend, MemorySegment grad) {
    TokenLogits t = tokens;
    Segments.require(t.logits(), "logits", t.logitsBytes(), t.logitsType().bytes(), backend, false);
    Segments.require(t.labels(), "labels", t.labelBytes(), t.labelType().bytes(), backend, false);
    Segments.require(refLogps, "refLogps", 4L * t.rows(), 4, backend, false);
    Segments.require(groupIds, "groupIds", 4L * numPairs(), 4, backend, false);
    List<Segments.Use> uses = new ArrayList<>(t.uses());
    uses.add(new Segments.Use("refLogps", refLogps, 4L * t.rows(), false));
    uses.add(new Segments.Use("groupIds", groupIds, 4L * numPairs(), false));
    if (grad != null) {
      Segments.require(grad, "grad", t.logitsBytes(), t.logitsType().bytes(), backend, true);
      uses.add(new Segments.Use("grad", grad, t.logitsBytes(), true));
    }
    Segments.requireDisjoint(uses, t.logits());
  }
}
