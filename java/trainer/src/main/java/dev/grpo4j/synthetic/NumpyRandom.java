package dev.grpo4j.synthetic;

/**
 * The subset of numpy's legacy {@code RandomState} (the global {@code np.random.*} functions) that the paper's
 * bandit code draws from, reproduced draw for draw: MT19937 seeded with {@code init_genrand}, 53-bit doubles,
 * {@code uniform}, {@code shuffle} of a list, {@code choice(..., replace=False, p=...)} and the number of
 * draws {@code standard_normal} consumes. With it, seed 2021 gives the same states, action pairs, group
 * split and initial parameters as the paper's runs with seed 2021 (checked against numpy in the tests).
 *
 * <p>Not thread-safe; one instance per data stream.
 */
final class NumpyRandom {
  private static final int N = 624;
  private static final int M = 397;
  private static final int MATRIX_A = 0x9908b0df;
  private static final int UPPER_MASK = 0x80000000;
  private static final int LOWER_MASK = 0x7fffffff;

  private final int[] key = new int[N];
  private int pos;
  private boolean hasGauss;
  private double cachedGauss;

  /** {@code np.random.seed(seed)} for a seed in [0, 2^32). */
  NumpyRandom(long seed) {
    if (seed < 0 || seed > 0xffffffffL) {
      throw new IllegalArgumentException("seed = " + seed + ": numpy seeds are in [0, 2^32)");
    }
    int s = (int) seed;
    for (int i = 0; i < N; i++) {
      key[i] = s;
      s = 1812433253 * (s ^ (s >>> 30)) + i + 1;
    }
    pos = N;
  }

  /** One 32-bit output of MT19937, as an unsigned value. */
  long nextUint32() {
    if (pos == N) {
      generate();
    }
    int y = key[pos++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y & 0xffffffffL;
  }

  /** {@code random_sample()}: a double in [0, 1) from two 32-bit outputs (27 + 26 bits). */
  double nextDouble() {
    long a = nextUint32() >>> 5;
    long b = nextUint32() >>> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
  }

  /** {@code uniform(low, high)}: {@code low + (high - low) * random_sample()}. */
  double uniform(double low, double high) {
    return low + (high - low) * nextDouble();
  }

  /** {@code shuffle(list)}: Fisher-Yates from the back with numpy's masked rejection sampling. */
  void shuffle(int[] values) {
    for (int i = values.length - 1; i >= 1; i--) {
      int j = (int) interval(i);
      int t = values[i];
      values[i] = values[j];
      values[j] = t;
    }
  }

  /**
   * {@code choice(a=p.length, size=size, replace=False, p=p)}: draws a batch of uniforms, maps them through the
   * cumulative distribution (with already-found indices zeroed and the distribution renormalised, as numpy
   * does), keeps first occurrences, and repeats until {@code size} distinct indices are found.
   */
  int[] choiceWithoutReplacement(double[] p, int size) {
    double[] q = p.clone();
    int[] found = new int[size];
    int unique = 0;
    while (unique < size) {
      int want = size - unique;
      double[] x = new double[want];
      for (int i = 0; i < want; i++) {
        x[i] = nextDouble();
      }
      for (int i = 0; i < unique; i++) {
        q[found[i]] = 0;
      }
      double[] cdf = new double[q.length];
      double sum = 0;
      for (int i = 0; i < q.length; i++) {
        sum += q[i];
        cdf[i] = sum;
      }
      double last = cdf[cdf.length - 1];
      for (int i = 0; i < cdf.length; i++) {
        cdf[i] /= last;
      }
      int before = unique;
      for (int i = 0; i < want; i++) {
        int index = searchSortedRight(cdf, x[i]);
        boolean seen = false;
        for (int k = before; k < unique; k++) {
          seen |= found[k] == index;
        }
        if (!seen) {
          found[unique++] = index;
        }
      }
    }
    return found;
  }

  /**
   * {@code standard_normal()}, legacy polar method: returns the cached second value of the previous pair when
   * there is one, otherwise draws pairs of uniforms until one falls inside the unit disc.
   */
  double standardNormal() {
    if (hasGauss) {
      hasGauss = false;
      return cachedGauss;
    }
    double x1;
    double x2;
    double r2;
    do {
      x1 = 2.0 * nextDouble() - 1.0;
      x2 = 2.0 * nextDouble() - 1.0;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    double f = Math.sqrt(-2.0 * Math.log(r2) / r2);
    cachedGauss = f * x1;
    hasGauss = true;
    return f * x2;
  }

  /** Index of the first cdf entry greater than x ({@code searchsorted(x, side='right')}). */
  private static int searchSortedRight(double[] cdf, double x) {
    int i = 0;
    while (i < cdf.length && cdf[i] <= x) {
      i++;
    }
    return i;
  }

  /** A value in [0, max] by masked rejection sampling on 32-bit outputs (numpy's random_interval). */
  private long interval(long max) {
    if (max == 0) {
      return 0;
    }
    long mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    long value;
    do {
      value = nextUint32() & mask;
    } while (value > max);
    return value;
  }

  private void generate() {
    int kk;
    int y;
    for (kk = 0; kk < N - M; kk++) {
      y = (key[kk] & UPPER_MASK) | (key[kk + 1] & LOWER_MASK);
      key[kk] = key[kk + M] ^ (y >>> 1) ^ (-(y & 1) & MATRIX_A);
    }
    for (; kk < N - 1; kk++) {
      y = (key[kk] & UPPER_MASK) | (key[kk + 1] & LOWER_MASK);
      key[kk] = key[kk + (M - N)] ^ (y >>> 1) ^ (-(y & 1) & MATRIX_A);
    }
    y = (key[N - 1] & UPPER_MASK) | (key[0] & LOWER_MASK);
    key[N - 1] = key[M - 1] ^ (y >>> 1) ^ (-(y & 1) & MATRIX_A);
    pos = 0;
  }
}
