package dev.grpo4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link PairSampler}: every epoch is a permutation whatever the batch size, the sequence is a function of the seed,
 * and {@link PairSampler#skipTo} resumes the exact sequence of an uninterrupted sampler.
 */
class PairSamplerTest {
  private static final int SIZE = 7;

  @ParameterizedTest
  @ValueSource(ints = {1, 3, 7, 10, 16})
  void everyEpochIsAPermutation(int batch) {
    PairSampler sampler = new PairSampler(SIZE, 11);
    int epochs = 5;
    int[] drawn = draw(sampler, batch, epochs * SIZE);
    for (int e = 0; e < epochs; e++) {
      int[] epoch = Arrays.copyOfRange(drawn, e * SIZE, (e + 1) * SIZE);
      int[] sorted = epoch.clone();
      Arrays.sort(sorted);
      assertArrayEquals(identity(SIZE), sorted, "batch " + batch + ", epoch " + e + ": " + Arrays.toString(epoch));
    }
  }

  @Test
  void epochsAreShuffledDifferently() {
    int[] drawn = draw(new PairSampler(20, 5), 20, 60);
    int[] first = Arrays.copyOfRange(drawn, 0, 20);
    assertFalse(Arrays.equals(identity(20), first), "the first epoch is shuffled");
    assertFalse(Arrays.equals(first, Arrays.copyOfRange(drawn, 20, 40)));
    assertFalse(Arrays.equals(Arrays.copyOfRange(drawn, 20, 40), Arrays.copyOfRange(drawn, 40, 60)));
  }

  @Test
  void sameSeedSameSequenceDifferentSeedDifferentSequence() {
    int[] a = draw(new PairSampler(20, 42), 6, 60);
    int[] b = draw(new PairSampler(20, 42), 6, 60);
    int[] c = draw(new PairSampler(20, 43), 6, 60);
    assertArrayEquals(a, b);
    assertFalse(Arrays.equals(a, c));
  }

  @Test
  void batchSizeDoesNotChangeTheSequence() {
    assertArrayEquals(draw(new PairSampler(SIZE, 3), 1, 30), draw(new PairSampler(SIZE, 3), 4, 30));
  }

  @ParameterizedTest
  @ValueSource(longs = {0, 1, 5, 6, 7, 8, 13, 14, 15, 20, 21, 40})
  void skipToContinuesTheUninterruptedSequence(long n) {
    int[] uninterrupted = draw(new PairSampler(SIZE, 9), 3, 70);
    PairSampler resumed = new PairSampler(SIZE, 9);
    resumed.skipTo(n);
    assertEquals(n, resumed.consumed());
    int[] continued = draw(resumed, 4, 20);
    assertArrayEquals(Arrays.copyOfRange(uninterrupted, (int) n, (int) n + 20), continued, "resumed at " + n);
  }

  @Test
  void skipToOnAUsedSamplerRewinds() {
    int[] uninterrupted = draw(new PairSampler(SIZE, 9), 5, 30);
    PairSampler sampler = new PairSampler(SIZE, 9);
    draw(sampler, 5, 25);
    sampler.skipTo(3);
    assertArrayEquals(Arrays.copyOfRange(uninterrupted, 3, 13), sampler.next(10));
  }

  @Test
  void epochIsFractional() {
    PairSampler sampler = new PairSampler(4, 1);
    assertEquals(0.0, sampler.epoch());
    sampler.next(3);
    assertEquals(0.75, sampler.epoch());
    sampler.next(7);
    assertEquals(10, sampler.consumed());
    assertEquals(2.5, sampler.epoch());
    sampler.skipTo(4);
    assertEquals(1.0, sampler.epoch());
  }

  @Test
  void singlePairAlwaysYieldsIt() {
    assertArrayEquals(new int[5], new PairSampler(1, 8).next(5));
  }

  @Test
  void invalidArgumentsThrow() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new PairSampler(0, 1));
    assertTrue(e.getMessage().contains("size = 0"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new PairSampler(3, 1).skipTo(-1));
    assertTrue(e.getMessage().contains("consumed = -1"), e.getMessage());
  }

  private static int[] draw(PairSampler sampler, int batch, int count) {
    int[] out = new int[count];
    int filled = 0;
    while (filled < count) {
      int[] next = sampler.next(batch);
      int take = Math.min(next.length, count - filled);
      System.arraycopy(next, 0, out, filled, take);
      filled += take;
    }
    return out;
  }

  private static int[] identity(int n) {
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      out[i] = i;
    }
    return out;
  }
}
