package dev.grpo4j.torch;

import dev.grpo4j.Weighting;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The order a training call works through its response positions in, and its chunks. A pair whose positions fit
 * one chunk is whole; the whole pairs are packed into chunks of whole pairs, so that each chunk's margins, and with
 * them its {@code dl/ds}, are known as soon as its log-probs are. The other pairs are split: their positions come
 * first, in chunks of any positions that are worked through twice. Within each part the pairs go by group, so that
 * a chunk's positions of one accumulator slot are adjacent.
 *
 * @param positions flat indices into the {@code N x T} positions, in working order
 * @param splitPositions how many of them, the first, belong to split pairs
 * @param splitPairs the split pairs
 * @param wholeChunks the pairs of each chunk of whole pairs, in order
 * @param pairPositions response positions of each pair
 * @param deferred whether the group coefficients scale the gradient after the products; if not, every pair is split
 *     and the group step comes before the recompute
 * @param slotOfGroup the accumulator slot of each group's gradient (-1 for a group without positions)
 * @param slots accumulator slots
 */
record FusedHeadLayout(long[] positions, int splitPositions, int[] splitPairs, List<int[]> wholeChunks,
    int[] pairPositions, boolean deferred, int[] slotOfGroup, int slots) {

  /**
   * The layout of a training call.
   *
   * @param rowMajor the labelled positions, flat indices into the {@code N x T} positions, ascending
   * @param seqLen T
   * @param groupIds each pair's group, in {@code [0, groups)}
   * @param chunk positions per chunk
   * @param mayDefer whether the group coefficients may come after the products (not for float16 logits, nor when
   *     asked to recompute every chunk)
   * @param slotBytes bytes of one extra accumulator slot
   * @param memoryBudget bytes the extra slots may take
   */
  static FusedHeadLayout plan(long[] rowMajor, long seqLen, int[] groupIds, int groups, Weighting weighting,
                              long chunk, boolean mayDefer, long slotBytes, long memoryBudget) {
    int pairs = groupIds.length;
    int[] rowStart = new int[2 * pairs + 1];
    for (long position : rowMajor) {
      rowStart[(int) (position / seqLen) + 1]++;
    }
    for (int r = 0; r < 2 * pairs; r++) {
      rowStart[r + 1] += rowStart[r];
    }
    int[] pairPositions = new int[pairs];
    for (int i = 0; i < pairs; i++) {
      pairPositions[i] = rowStart[i + 1] - rowStart[i] + rowStart[pairs + i + 1] - rowStart[pairs + i];
    }
    int[] byGroup = IntStream.range(0, pairs).boxed()
        .sorted(Comparator.comparingInt(i -> groupIds[i])).mapToInt(Integer::intValue).toArray();
    int[] slotOfGroup = new int[groups];
    Arrays.fill(slotOfGroup, -1);
    int groupSlots = 0;
    for (int i : byGroup) {
      if (pairPositions[i] > 0 && slotOfGroup[groupIds[i]] < 0) {
        slotOfGroup[groupIds[i]] = groupSlots++;
      }
    }
    boolean sameCoefficients = weighting == Weighting.AVERAGE;
    int slots = sameCoefficients ? 1 : Math.max(1, groupSlots);
    boolean deferred = mayDefer && (slots - 1) * (double) slotBytes <= memoryBudget;
    if (!deferred || sameCoefficients) {
      slots = 1;
      for (int g = 0; g < slotOfGroup.length; g++) {
        slotOfGroup[g] = slotOfGroup[g] < 0 ? -1 : 0;
      }
    }
    List<Integer> split = new ArrayList<>();
    List<Integer> whole = new ArrayList<>();
    for (int i : byGroup) {
      if (pairPositions[i] > 0) {
        (deferred && pairPositions[i] <= chunk ? whole : split).add(i);
      }
    }
    long[] positions = new long[rowMajor.length];
    int at = 0;
    for (List<Integer> part : List.of(split, whole)) {
      for (int i : part) {
        for (int row : new int[] {i, pairs + i}) {
          for (int k = rowStart[row]; k < rowStart[row + 1]; k++) {
            positions[at++] = rowMajor[k];
          }
        }
      }
    }
    int splitPositions = 0;
    for (int i : split) {
      splitPositions += pairPositions[i];
    }
    List<int[]> wholeChunks = new ArrayList<>();
    List<Integer> current = new ArrayList<>();
    long filled = 0;
    for (int i : whole) {
      if (filled + pairPositions[i] > chunk) {
        wholeChunks.add(current.stream().mapToInt(Integer::intValue).toArray());
        current.clear();
        filled = 0;
      }
      current.add(i);
      filled += pairPositions[i];
    }
    if (!current.isEmpty()) {
      wholeChunks.add(current.stream().mapToInt(Integer::intValue).toArray());
    }
    return new FusedHeadLayout(positions, splitPositions, split.stream().mapToInt(Integer::intValue).toArray(),
        wholeChunks, pairPositions, deferred, slotOfGroup, slots);
  }

  /** Response positions of {@code pairs} together. */
  int positionsOf(int[] pairs) {
    int sum = 0;
    for (int i : pairs) {
      sum += pairPositions[i];
    }
    return sum;
  }
}
