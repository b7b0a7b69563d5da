package dev.grpo4j.bench;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemorySegment;
import java.util.stream.IntStream;

/**
 * GR-DPO (BATCH_MEAN groups, ROBUST weights, chi = 1) in plain double-precision Java, written from the formulas of
 * SPEC.md §2 independently of the native code: the oracle every benchmark checks its output against in setup,
 * and, on the small shape, itself a benchmark (the cost of not having a native kernel at all).
 */
final class Reference {
  /**
   * The forward results and what the gradient needs.
   *
   * @param lse log-sum-exp of every position
   * @param rowLogp s_r per row
   * @param rowCoef dJ/ds_r per row (training call)
   * @param weights w_g used in J
   */
  record Result(double loss, double[] rowLogp, double[] lse, double[] rowCoef, double[] weights) {
    /** dJ/dz at position p, vocabulary entry v. */
    double grad(MemorySegment logits, Dtype dtype, Shape s, MemorySegment labels, long p, int v) {
      int row = (int) (p / s.seqLen());
      long label = labels.getAtIndex(JAVA_LONG, p);
      double softmax = Math.exp(BenchData.read(logits, dtype, p * s.vocab() + v) - lse[(int) p]);
      return rowCoef[row] * ((v == label ? 1.0 : 0.0) - softmax);
    }
  }

  private Reference() {}

  /**
   * The objective from log-weights {@code logAlpha} (updated by a training call, as the kernel does), in double.
   * Every position is labelled (BenchData).
   */
  static Result compute(Shape s, MemorySegment logits, Dtype dtype, MemorySegment labels, MemorySegment ref,
                        double[] logAlpha, boolean train) {
    int positions = Math.toIntExact(s.positions());
    double[] lse = new double[positions];
    IntStream.range(0, positions).parallel().forEach(p -> lse[p] = logSumExp(logits, dtype, (long) p * s.vocab(),
        s.vocab()));
    return finish(s, logits, dtype, labels, ref, logAlpha, train, lse);
  }

  static double logSumExp(MemorySegment logits, Dtype dtype, long base, int vocab) {
    double max = Double.NEGATIVE_INFINITY;
    double sum = 0;
    if (dtype == Dtype.F32) {
      for (int v = 0; v < vocab; v++) {
        max = Math.max(max, logits.getAtIndex(JAVA_FLOAT, base + v));
      }
      for (int v = 0; v < vocab; v++) {
        sum += Math.exp(logits.getAtIndex(JAVA_FLOAT, base + v) - max);
      }
    } else {
      for (int v = 0; v < vocab; v++) {
        max = Math.max(max, BenchData.fromBf16(logits.getAtIndex(JAVA_SHORT, base + v)));
      }
      for (int v = 0; v < vocab; v++) {
        sum += Math.exp(BenchData.fromBf16(logits.getAtIndex(JAVA_SHORT, base + v)) - max);
      }
    }
    return max + Math.log(sum);
  }

  static Result finish(Shape s, MemorySegment logits, Dtype dtype, MemorySegment labels, MemorySegment ref,
                       double[] logAlpha, boolean train, double[] lse) {
    int b = s.pairs();
    int k = logAlpha.length;
    double[] logp = new double[s.rows()];
    for (int r = 0; r < s.rows(); r++) {
      for (int t = 0; t < s.seqLen(); t++) {
        long p = (long) r * s.seqLen() + t;
        long label = labels.getAtIndex(JAVA_LONG, p);
        logp[r] += BenchData.read(logits, dtype, p * s.vocab() + label) - lse[(int) p];
      }
    }
    double[] pairLoss = new double[b];
    double[] dLossDh = new double[b];
    double[] groupSum = new double[k];
    int[] count = new int[k];
    for (int i = 0; i < b; i++) {
      double h = (logp[i] - ref.getAtIndex(JAVA_FLOAT, i)) - (logp[b + i] - ref.getAtIndex(JAVA_FLOAT, b + i));
      double x = BenchData.BETA * h;
      pairLoss[i] = Math.max(-x, 0) + Math.log1p(Math.exp(-Math.abs(x)));    // softplus(-x) = -log sigmoid(x)
      dLossDh[i] = -BenchData.BETA * sigmoid(-x);
      int g = BenchData.groupOf(i);
      groupSum[g] += pairLoss[i];
      count[g]++;
    }
    double[] groupLoss = new double[k];
    for (int g = 0; g < k; g++) {
      groupLoss[g] = count[g] > 0 ? groupSum[g] / count[g] : 0;
    }
    double[] next = logAlpha.clone();
    if (train) {
      double max = Double.NEGATIVE_INFINITY;
      for (int g = 0; g < k; g++) {
        next[g] += BenchData.ETA * groupLoss[g];
        max = Math.max(max, next[g]);
      }
      double z = 0;
      for (int g = 0; g < k; g++) {
        z += Math.exp(next[g] - max);
      }
      double logZ = max + Math.log(z);
      for (int g = 0; g < k; g++) {
        next[g] -= logZ;
      }
      System.arraycopy(next, 0, logAlpha, 0, k);
    }
    double[] weights = new double[k];
    double loss = 0;
    for (int g = 0; g < k; g++) {
      weights[g] = Math.exp(next[g]);
      loss += weights[g] * groupLoss[g];
    }
    double[] coef = new double[s.rows()];
    for (int i = 0; i < b; i++) {
      int g = BenchData.groupOf(i);
      double dJdLoss = weights[g] / count[g];
      coef[i] = dJdLoss * dLossDh[i];
      coef[b + i] = -dJdLoss * dLossDh[i];
    }
    return new Result(loss, logp, lse, coef, weights);
  }

  /** The full training call: the objective and the whole gradient, written as fp32 into {@code grad}. */
  static double forwardBackward(Shape s, MemorySegment logits, MemorySegment labels, MemorySegment ref,
                                double[] logAlpha, MemorySegment grad) {
    Result r = compute(s, logits, Dtype.F32, labels, ref, logAlpha, true);
    for (long p = 0; p < s.positions(); p++) {
      double coef = r.rowCoef()[(int) (p / s.seqLen())];
      double lse = r.lse()[(int) p];
      long base = p * s.vocab();
      for (int v = 0; v < s.vocab(); v++) {
        grad.setAtIndex(JAVA_FLOAT, base + v, (float) (-coef * Math.exp(logits.getAtIndex(JAVA_FLOAT, base + v) - lse)));
      }
      long label = labels.getAtIndex(JAVA_LONG, p);
      grad.setAtIndex(JAVA_FLOAT, base + label,
          (float) (coef * (1 - Math.exp(logits.getAtIndex(JAVA_FLOAT, base + label) - lse))));
    }
    return r.loss();
  }

  static double[] uniformLogAlpha() {
    double[] a = new double[BenchData.GROUPS];
    java.util.Arrays.fill(a, -Math.log(BenchData.GROUPS));
    return a;
  }

  private static double sigmoid(double x) {
    return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
  }
}
