package dev.grpo4j.synthetic;

/**
 * The paper's reward error on the test states: for each group g, {@code r*_g} is the mean over test states of the
 * best action's true reward, {@code r_g(pi)} the mean true reward of the policy's arg-max action
 * ({@code eval_metric='argmax'}), and the error is {@code (r*_g - r_g(pi)) / r*_g}. Every test state is evaluated for
 * every group, as in {@code evaluate_reward_group_wise}. The arg-max is taken over the float32 logits, as the paper's
 * policy computes them in float32.
 */
final class RewardEvaluator {
  private static final int A = GroupLinearBandit.ACTIONS;
  private static final int D = GroupLinearBandit.FEATURE_DIM;
  private static final int K = GroupLinearBandit.GROUPS;

  private final int states;
  /** {@code phi[g][(j * A + a) * D + k]}. */
  private final double[][] phi;
  /** {@code reward[g][j * A + a]}: true reward. */
  private final double[][] reward;
  private final double[] optimal;

  RewardEvaluator(PreferenceSet test, GroupLinearBandit env) {
    states = test.size();
    phi = new double[K][states * A * D];
    reward = new double[K][states * A];
    optimal = new double[K];
    for (int g = 0; g < K; g++) {
      double sum = 0;
      for (int j = 0; j < states; j++) {
        double best = Double.NEGATIVE_INFINITY;
        for (int a = 0; a < A; a++) {
          env.feature(test.s0()[j], test.s1()[j], a, g, phi[g], (j * A + a) * D);
          double r = env.trueReward(test.s0()[j], test.s1()[j], a, g);
          reward[g][j * A + a] = r;
          best = Math.max(best, r);
        }
        sum += best;
      }
      optimal[g] = sum / states;
    }
  }

  /** {@code r*_g}, the mean optimal true reward per group. */
  double[] optimalRewards() {
    return optimal.clone();
  }

  /** Mean true reward of the policy's greedy action, per group. */
  double[] policyRewards(double[] theta) {
    double[] out = new double[K];
    for (int g = 0; g < K; g++) {
      double sum = 0;
      for (int j = 0; j < states; j++) {
        int best = 0;
        float bestLogit = Float.NEGATIVE_INFINITY;
        for (int a = 0; a < A; a++) {
          int base = (j * A + a) * D;
          double z = 0;
          for (int k = 0; k < D; k++) {
            z += phi[g][base + k] * theta[k];
          }
          float zf = (float) z;
          if (zf > bestLogit) {
            bestLogit = zf;
            best = a;
          }
        }
        sum += reward[g][j * A + best];
      }
      out[g] = sum / states;
    }
    return out;
  }

  /** {@code (r*_g - r_g(pi)) / r*_g} per group. */
  double[] rewardErrors(double[] theta) {
    double[] r = policyRewards(theta);
    double[] err = new double[K];
    for (int g = 0; g < K; g++) {
      err[g] = (optimal[g] - r[g]) / optimal[g];
    }
    return err;
  }
}
