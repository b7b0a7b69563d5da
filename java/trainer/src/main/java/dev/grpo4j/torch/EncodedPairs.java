package dev.grpo4j.torch;

import dev.grpo4j.TokenLogits;
import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.text.TokenPair;
import java.util.List;
import java.util.Objects;
import org.bytedeco.pytorch.Tensor;

/**
 * Preference pairs encoded once as fixed-length causal-LM rows, from which training and evaluation batches are cut
 * as libtorch tensors in the TRL layout the loss expects (chosen rows, then the rejected rows of the same pairs).
 *
 * <p>A row is {@code prompt ++ response} shifted for next-token prediction: input position t holds token t and
 * its label is token t+1; labels that fall in the prompt and the padding are {@link TokenLogits#IGNORE_INDEX}, so
 * a sequence log-prob covers exactly the response. Padding inputs are token 0; a causal model never lets them
 * influence the positions before them.
 *
 * <p>Batches are cut to the longest row among their own pairs, not the data set's, so one long pair does not make
 * every batch pay for its padding.
 *
 * <p>Reference log-probs are attached once with {@link #withReference} (they are a property of the data under a
 * frozen reference model) and then travel with every batch.
 */
public final class EncodedPairs {
  /**
   * One batch of B pairs as CPU tensors, created in the caller's {@code PointerScope}.
   *
   * @param inputIds {@code [2B, T]} int64
   * @param labels {@code [2B, T]} int64, shifted, masked
   * @param refLogps {@code [2B]} float32 reference sequence log-probs
   * @param groupIds {@code [B]} int32
   */
  public record Batch(Tensor inputIds, Tensor labels, Tensor refLogps, Tensor groupIds) {}

  private final int size;
  private final int seqLen;
  private final long[] chosenIds;
  private final long[] chosenLabels;
  private final long[] rejectedIds;
  private final long[] rejectedLabels;
  private final int[] groups;
  private final int[] rowLengths;
  private final float[] refChosen;
  private final float[] refRejected;

  private EncodedPairs(int size, int seqLen, long[] chosenIds, long[] chosenLabels, long[] rejectedIds,
                       long[] rejectedLabels, int[] groups, int[] rowLengths, float[] refChosen,
                       float[] refRejected) {
    this.size = size;
    this.seqLen = seqLen;
    this.chosenIds = chosenIds;
    this.chosenLabels = chosenLabels;
    this.rejectedIds = rejectedIds;
    this.rejectedLabels = rejectedLabels;
    this.groups = groups;
    this.rowLengths = rowLengths;
    this.refChosen = refChosen;
    this.refRejected = refRejected;
  }

  /** Encodes {@code pairs} with the shortest row length that holds every pair. */
  public static EncodedPairs encode(List<TokenPair> pairs) {
    int longest = 1;
    for (TokenPair p : pairs) {
      longest = Math.max(longest, rowLength(p));
    }
    return encode(pairs, longest);
  }

  /** Positions the longer of a pair's two rows needs: prompt plus response, less the last token (never an input). */
  private static int rowLength(TokenPair p) {
    return Math.max(1, p.prompt().length + Math.max(p.chosen().length, p.rejected().length) - 1);
  }

  /** Encodes {@code pairs} into rows of {@code seqLen} positions. */
  public static EncodedPairs encode(List<TokenPair> pairs, int seqLen) {
    Objects.requireNonNull(pairs, "pairs");
    if (pairs.isEmpty()) {
      throw new IllegalArgumentException("pairs is empty: need at least one preference pair");
    }
    int n = pairs.size();
    long[] chosenIds = new long[n * seqLen];
    long[] chosenLabels = new long[n * seqLen];
    long[] rejectedIds = new long[n * seqLen];
    long[] rejectedLabels = new long[n * seqLen];
    int[] groups = new int[n];
    int[] rowLengths = new int[n];
    for (int i = 0; i < n; i++) {
      TokenPair p = pairs.get(i);
      groups[i] = p.group();
      rowLengths[i] = rowLength(p);
      writeRow(p.prompt(), p.chosen(), seqLen, i, chosenIds, chosenLabels);
      writeRow(p.prompt(), p.rejected(), seqLen, i, rejectedIds, rejectedLabels);
    }
    return new EncodedPairs(n, seqLen, chosenIds, chosenLabels, rejectedIds, rejectedLabels, groups, rowLengths, null,
        null);
  }

  /** The same pairs with reference log-probs of their chosen and rejected rows, one per pair each. */
  public EncodedPairs withReference(float[] chosen, float[] rejected) {
    if (chosen.length != size || rejected.length != size) {
      throw new IllegalArgumentException("need " + size + " reference log-probs per side, got " + chosen.length
          + " chosen and " + rejected.length + " rejected");
    }
    return new EncodedPairs(size, seqLen, chosenIds, chosenLabels, rejectedIds, rejectedLabels, groups,
        rowLengths, chosen.clone(), rejected.clone());
  }

  /** Number of pairs. */
  public int size() {
    return size;
  }

  /** Positions per row T. */
  public int seqLen() {
    return seqLen;
  }

  /** Group of pair {@code i}. */
  public int group(int i) {
    return groups[i];
  }

  /**
   * Input tokens the rows of {@code pairs} hold without padding (chosen and rejected rows), the throughput measure
   * of a training step.
   */
  public long tokens(int[] pairs) {
    long tokens = 0;
    for (int i : pairs) {
      tokens += 2L * rowLengths[i];
    }
    return tokens;
  }

  /** The labelled positions of the chosen rows of {@code pairs}: what supervised fine-tuning averages over. */
  public long chosenPositions(int[] pairs) {
    long positions = 0;
    for (int i : pairs) {
      for (int t = 0; t < seqLen; t++) {
        positions += chosenLabels[i * seqLen + t] != TokenLogits.IGNORE_INDEX ? 1 : 0;
      }
    }
    return positions;
  }

  /** The longest row among {@code pairs}: the width T of their batch. */
  public int width(int[] pairs) {
    int width = 1;
    for (int i : pairs) {
      width = Math.max(width, rowLengths[i]);
    }
    return width;
  }

  /** The reference log-probs of the chosen responses, one per pair; needs {@link #withReference}. */
  public float[] referenceChosen() {
    requireReference();
    return refChosen.clone();
  }

  /** The reference log-probs of the rejected responses, one per pair; needs {@link #withReference}. */
  public float[] referenceRejected() {
    requireReference();
    return refRejected.clone();
  }

  public boolean hasReference() {
    return refChosen != null;
  }

  /**
   * Input ids {@code [2B, T]}: the chosen rows of {@code pairs}, then their rejected rows, T = {@link #width}.
   */
  public Tensor inputIds(int[] pairs) {
    int width = width(pairs);
    return HostTensors.longs(stack(pairs, chosenIds, rejectedIds, width), 2L * pairs.length, width);
  }

  /** Labels {@code [2B, T]}, rows as in {@link #inputIds}. */
  public Tensor labels(int[] pairs) {
    int width = width(pairs);
    return HostTensors.longs(stack(pairs, chosenLabels, rejectedLabels, width), 2L * pairs.length, width);
  }

  /** Input ids {@code [B, T]} of the chosen rows only (supervised fine-tuning on the preferred responses). */
  public Tensor chosenInputIds(int[] pairs) {
    int width = width(pairs);
    return HostTensors.longs(gather(pairs, chosenIds, width), pairs.length, width);
  }

  /** Labels {@code [B, T]} of the chosen rows only. */
  public Tensor chosenLabels(int[] pairs) {
    int width = width(pairs);
    return HostTensors.longs(gather(pairs, chosenLabels, width), pairs.length, width);
  }

  /** The full batch for the loss; needs {@link #withReference} first. */
  public Batch batch(int[] pairs) {
    float[] ref = referenceLogps(pairs);
    int[] groupIds = groups(pairs);
    return new Batch(inputIds(pairs), labels(pairs), HostTensors.floats(ref, ref.length),
        HostTensors.ints(groupIds, groupIds.length));
  }

  /**
   * The reference log-probs of {@code pairs} as the loss takes them: the chosen responses' {@code [B]}, then the
   * rejected ones' {@code [B]}; needs {@link #withReference} first.
   */
  public float[] referenceLogps(int[] pairs) {
    requireReference();
    float[] ref = new float[2 * pairs.length];
    for (int b = 0; b < pairs.length; b++) {
      ref[b] = refChosen[pairs[b]];
      ref[pairs.length + b] = refRejected[pairs[b]];
    }
    return ref;
  }

  /** The group of each of {@code pairs}. */
  public int[] groups(int[] pairs) {
    int[] out = new int[pairs.length];
    for (int b = 0; b < pairs.length; b++) {
      out[b] = groups[pairs[b]];
    }
    return out;
  }

  private void requireReference() {
    if (!hasReference()) {
      throw new IllegalStateException("these pairs have no reference log-probs yet: compute them once with the "
          + "frozen reference model and attach them with withReference(chosen, rejected)");
    }
  }

  private static void writeRow(int[] prompt, int[] response, int seqLen, int row, long[] ids, long[] labels) {
    int length = prompt.length + response.length;
    if (length - 1 > seqLen) {
      throw new IllegalArgumentException("a pair needs " + (length - 1) + " positions but rows have " + seqLen);
    }
    int base = row * seqLen;
    for (int t = 0; t < seqLen; t++) {
      ids[base + t] = t < length - 1 ? token(prompt, response, t) : 0;
      boolean predictsResponse = t + 1 >= prompt.length && t + 1 < length;
      labels[base + t] = predictsResponse ? token(prompt, response, t + 1) : TokenLogits.IGNORE_INDEX;
    }
  }

  private static int token(int[] prompt, int[] response, int position) {
    return position < prompt.length ? prompt[position] : response[position - prompt.length];
  }

  private long[] stack(int[] pairs, long[] chosen, long[] rejected, int width) {
    long[] out = new long[2 * pairs.length * width];
    for (int b = 0; b < pairs.length; b++) {
      System.arraycopy(chosen, pairs[b] * seqLen, out, b * width, width);
      System.arraycopy(rejected, pairs[b] * seqLen, out, (pairs.length + b) * width, width);
    }
    return out;
  }

  private long[] gather(int[] pairs, long[] rows, int width) {
    long[] out = new long[pairs.length * width];
    for (int b = 0; b < pairs.length; b++) {
      System.arraycopy(rows, pairs[b] * seqLen, out, b * width, width);
    }
    return out;
  }
}
