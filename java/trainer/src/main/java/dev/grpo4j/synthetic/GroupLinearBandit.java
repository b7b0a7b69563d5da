package dev.grpo4j.synthetic;

/**
 * The paper's group linear bandit (Ramesh et al. 2024, §5; {@code envs/group_linear_bandit.py} of its code): a state
 * {@code s ~ Uniform(0,1)^2}, {@link #ACTIONS} actions, a 4-dimensional feature map {@code phi(s, a, g)} that depends
 * on the group, and a true linear reward per group, {@code r_g(s, a) = phi(s, a, g) . theta*_g} with
 * {@code theta*_0 = [1,3,1,3]}, {@code theta*_1 = [3,1,3,1]}.
 *
 * <p>With swapped features, group 1's reward {@code [y,x].[3,1] = x + 3y} equals what group 0's parameter would
 * give on unswapped features, so no single policy parameter is optimal for both groups: a shared log-linear policy
 * must trade them off, which is what the experiment measures.
 */
public final class GroupLinearBandit {
  public static final int ACTIONS = 8;
  public static final int STATE_DIM = 2;
  public static final int FEATURE_DIM = 2 * STATE_DIM;
  public static final int GROUPS = 2;

  private static final double[][] TRUE_PARAMS = {{1, 3, 1, 3}, {3, 1, 3, 1}};

  private final FeatureType featureType;

  public GroupLinearBandit(FeatureType featureType) {
    this.featureType = featureType;
  }

  public FeatureType featureType() {
    return featureType;
  }

  /** The true reward parameter {@code theta*_g} (a copy). */
  public static double[] trueParameter(int group) {
    return TRUE_PARAMS[group].clone();
  }

  /** Writes {@code phi(s, a, g)} ({@link #FEATURE_DIM} values) to {@code out[offset..]}. */
  public void feature(double s0, double s1, int action, int group, double[] out, int offset) {
    checkAction(action);
    checkGroup(group);
    double u = (double) action / ACTIONS + 1;
    double[] s = {s0, s1};
    for (int c = 0; c < STATE_DIM; c++) {
      double angle = s[c] * Math.PI;
      double first;
      double second;
      if (group % 2 == 0 || featureType == FeatureType.SAME) {
        first = u * Math.cos(angle);
        second = Math.sin(angle) / u;
      } else if (featureType == FeatureType.SWAPPED) {
        first = Math.sin(angle) / u;
        second = u * Math.cos(angle);
      } else {
        first = u * Math.sin(angle);
        second = Math.cos(angle) / u;
      }
      out[offset + 2 * c] = first;
      out[offset + 2 * c + 1] = second;
    }
  }

  /** {@code phi(s, a, g)} as a new array. */
  public double[] feature(double s0, double s1, int action, int group) {
    double[] out = new double[FEATURE_DIM];
    feature(s0, s1, action, group, out, 0);
    return out;
  }

  /** The true reward {@code r_g(s, a) = phi(s, a, g) . theta*_g}. */
  public double trueReward(double s0, double s1, int action, int group) {
    double[] phi = feature(s0, s1, action, group);
    double r = 0;
    for (int k = 0; k < FEATURE_DIM; k++) {
      r += phi[k] * TRUE_PARAMS[group][k];
    }
    return r;
  }

  /** The action of highest true reward for group {@code group} in state s (the first one on a tie). */
  public int optimalAction(double s0, double s1, int group) {
    int best = 0;
    double bestReward = trueReward(s0, s1, 0, group);
    for (int a = 1; a < ACTIONS; a++) {
      double r = trueReward(s0, s1, a, group);
      if (r > bestReward) {
        best = a;
        bestReward = r;
      }
    }
    return best;
  }

  private static void checkAction(int action) {
    if (action < 0 || action >= ACTIONS) {
      throw new IllegalArgumentException("action = " + action + ": must be in [0, " + ACTIONS + ")");
    }
  }

  private static void checkGroup(int group) {
    if (group < 0 || group >= GROUPS) {
      throw new IllegalArgumentException("group = " + group + ": must be in [0, " + GROUPS + ")");
    }
  }
}
