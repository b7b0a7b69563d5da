package dev.grpo4j.synthetic;

/**
 * A {@link PreferenceSet} prepared for the log-linear policy: the features of all {@link GroupLinearBandit#ACTIONS}
 * actions in each pair's state and group, the kernel's labels (the chosen action for rows {@code [0, B)}, the
 * rejected one for rows {@code [B, 2B)}), group ids and the feature differences {@code y_i = phi(s_i, a_w) -
 * phi(s_i, a_l)} of the closed form. Immutable after construction; shared by the runs of one seed.
 */
final class BanditFeatures {
  static final int A = GroupLinearBandit.ACTIONS;
  static final int D = GroupLinearBandit.FEATURE_DIM;

  final int pairs;
  /** {@code phi[(i * A + a) * D + k]}: feature k of action a in pair i's state and group. */
  final double[] phi;
  /** {@code 2B} labels: chosen actions, then rejected actions. */
  final int[] labels;
  final int[] groups;
  /** {@code diff[i * D + k]}: {@code phi(s_i, chosen) - phi(s_i, rejected)}. */
  final double[] diff;

  BanditFeatures(PreferenceSet set, GroupLinearBandit env) {
    pairs = set.size();
    phi = new double[pairs * A * D];
    labels = new int[2 * pairs];
    groups = set.group().clone();
    diff = new double[pairs * D];
    for (int i = 0; i < pairs; i++) {
      for (int a = 0; a < A; a++) {
        env.feature(set.s0()[i], set.s1()[i], a, set.group()[i], phi, (i * A + a) * D);
      }
      int w = set.chosen()[i];
      int l = set.rejected()[i];
      labels[i] = w;
      labels[pairs + i] = l;
      for (int k = 0; k < D; k++) {
        diff[i * D + k] = phi[(i * A + w) * D + k] - phi[(i * A + l) * D + k];
      }
    }
  }

  /**
   * The policy logits {@code z[r][a] = theta . phi(s_r, a, g_r)} of all 2B rows (T = 1, V = A); the chosen and the
   * rejected row of a pair share their state, so they hold the same logits and differ only in their label.
   */
  void logits(double[] theta, float[] out) {
    int half = pairs * A;
    for (int i = 0; i < pairs; i++) {
      for (int a = 0; a < A; a++) {
        int base = (i * A + a) * D;
        double z = 0;
        for (int k = 0; k < D; k++) {
          z += phi[base + k] * theta[k];
        }
        out[i * A + a] = (float) z;
        out[half + i * A + a] = (float) z;
      }
    }
  }

  /**
   * The parameter gradient from the kernel's logit gradient: {@code dtheta = sum_r sum_a dz[r][a] phi(s_r, a, g_r)}
   * (chain rule through {@code z = theta . phi}). Chosen and rejected rows of a pair share phi, so their rows are
   * added first.
   */
  void thetaGradient(float[] dLogits, double[] out) {
    java.util.Arrays.fill(out, 0);
    int half = pairs * A;
    for (int i = 0; i < pairs; i++) {
      for (int a = 0; a < A; a++) {
        double g = (double) dLogits[i * A + a] + dLogits[half + i * A + a];
        int base = (i * A + a) * D;
        for (int k = 0; k < D; k++) {
          out[k] += g * phi[base + k];
        }
      }
    }
  }
}
