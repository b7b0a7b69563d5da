package dev.grpo4j.synthetic;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * {@link NumpyRandom} against numpy 2.4's legacy {@code np.random} (the expected values were printed by numpy with
 * the same seeds and calls; see {@code numpy_reference.py} in this package's test resources).
 */
class NumpyRandomTest {
  @Test
  void uniformDrawsMatchNumpy() {
    // np.random.seed(2021); np.random.uniform(0, 1, 3)
    NumpyRandom rng = new NumpyRandom(2021);
    assertEquals(0.6059782788074047, rng.uniform(0, 1));
    assertEquals(0.7333693611934982, rng.uniform(0, 1));
    assertEquals(0.13894715672839875, rng.uniform(0, 1));
    // np.random.seed(2**32 - 1); np.random.uniform(0, 1)
    assertEquals(0.0976320289940138, new NumpyRandom(0xffffffffL).uniform(0, 1));
  }

  @Test
  void shuffleOfAListMatchesNumpy() {
    // np.random.seed(0); l = list(range(10)); np.random.shuffle(l)
    int[] values = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    new NumpyRandom(0).shuffle(values);
    assertArrayEquals(new int[] {2, 8, 4, 9, 1, 6, 7, 3, 0, 5}, values);
    // np.random.seed(0); l = list(range(300)); np.random.shuffle(l); l[:8]
    int[] big = new int[300];
    Arrays.setAll(big, i -> i);
    new NumpyRandom(0).shuffle(big);
    assertArrayEquals(new int[] {208, 188, 12, 221, 239, 136, 230, 206}, Arrays.copyOf(big, 8));
  }

  @Test
  void choiceWithoutReplacementMatchesNumpyIncludingRedraws() {
    // np.random.seed(5); 40 times np.random.choice(a=8, size=2, replace=False, p=np.full(8, 1/8)): about 1 in 8
    // first draws collide and take numpy's second round, so 40 pairs exercise it with near certainty.
    String expected = "16173464210531723254422317710156040457266703736463012756456776020460121625347062";
    NumpyRandom rng = new NumpyRandom(5);
    double[] uniform = new double[8];
    Arrays.fill(uniform, 1.0 / 8);
    StringBuilder actual = new StringBuilder();
    for (int i = 0; i < 40; i++) {
      int[] pair = rng.choiceWithoutReplacement(uniform, 2);
      actual.append(pair[0]).append(pair[1]);
    }
    assertEquals(expected, actual.toString());
  }

  @Test
  void standardNormalMatchesNumpyAndConsumesTheSameDraws() {
    // np.random.seed(11); np.random.standard_normal(3); np.random.uniform(0, 1)
    NumpyRandom rng = new NumpyRandom(11);
    assertEquals(1.7494547413051793, rng.standardNormal(), 1e-15);
    assertEquals(-0.28607299681629417, rng.standardNormal(), 1e-15);
    assertEquals(-0.4845651322211443, rng.standardNormal(), 1e-15);
    assertEquals(0.012780814590608647, rng.uniform(0, 1));
  }

  @Test
  void rejectsSeedsNumpyRejects() {
    assertThrows(IllegalArgumentException.class, () -> new NumpyRandom(-1));
    assertThrows(IllegalArgumentException.class, () -> new NumpyRandom(1L << 32));
  }
}
