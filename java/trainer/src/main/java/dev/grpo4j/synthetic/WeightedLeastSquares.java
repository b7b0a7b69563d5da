package dev.grpo4j.synthetic;

/**
 * GR-IPO's closed form for the log-linear policy. With a uniform reference the IPO margin is {@code y_i . theta}
 * ({@code y_i = phi(s_i, a_w) - phi(s_i, a_l)}), so the weighted objective {@code sum_i W_i (y_i . theta - c)^2 +
 * lambda |theta|^2} with {@code c = 1/(2 beta)} is a weighted least-squares problem whose minimiser is
 * {@code theta = (Y^T W Y + lambda I)^{-1} Y^T W 1 c}.
 *
 * <p>{@code W_i} is the weight of pair i in the gradient step's objective, {@code w_g / n_g} for its group g, so that
 * with {@code lambda = 0} the solution is exactly the fixed point of gradient GR-IPO with the same group weights.
 * (The paper's code weights rows by {@code alpha_g} without {@code 1/n_g}; both agree for equal group sizes.)
 */
public final class WeightedLeastSquares {
  private WeightedLeastSquares() {}

  /**
   * @param diff {@code y_i} row-major, {@code n x d}
   * @param groups group of each row
   * @param groupPairWeight {@code W} of a row of each group
   * @param ridge {@code lambda >= 0}
   * @param target {@code c}
   */
  public static double[] solve(double[] diff, int[] groups, double[] groupPairWeight, double ridge, double target) {
    int n = groups.length;
    int d = diff.length / n;
    double[][] a = new double[d][d + 1];
    for (int i = 0; i < n; i++) {
      double w = groupPairWeight[groups[i]];
      if (w == 0) {
        continue;
      }
      for (int p = 0; p < d; p++) {
        double wy = w * diff[i * d + p];
        for (int q = 0; q < d; q++) {
          a[p][q] += wy * diff[i * d + q];
        }
        a[p][d] += wy * target;
      }
    }
    for (int p = 0; p < d; p++) {
      a[p][p] += ridge;
    }
    return gaussianElimination(a);
  }

  /** Solves the augmented system {@code [A | b]} in place by Gaussian elimination with partial pivoting. */
  static double[] gaussianElimination(double[][] a) {
    int d = a.length;
    double scale = 0;
    for (double[] row : a) {
      for (int q = 0; q < d; q++) {
        scale = Math.max(scale, Math.abs(row[q]));
      }
    }
    for (int col = 0; col < d; col++) {
      int pivot = col;
      for (int r = col + 1; r < d; r++) {
        if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) {
          pivot = r;
        }
      }
      if (!(Math.abs(a[pivot][col]) > 1e-13 * scale)) {
        throw new IllegalStateException("the weighted normal equations are singular; use a positive ridge");
      }
      double[] t = a[col];
      a[col] = a[pivot];
      a[pivot] = t;
      for (int r = col + 1; r < d; r++) {
        double f = a[r][col] / a[col][col];
        for (int q = col; q <= d; q++) {
          a[r][q] -= f * a[col][q];
        }
      }
    }
    double[] x = new double[d];
    for (int r = d - 1; r >= 0; r--) {
      double s = a[r][d];
      for (int q = r + 1; q < d; q++) {
        s -= a[r][q] * x[q];
      }
      x[r] = s / a[r][r];
    }
    return x;
  }
}
