package dev.grpo4j.synthetic;

/**
 * One seed's data for the synthetic experiment, drawn exactly as the paper's bandit script draws it
 * ({@code experiments/run_group_linear_bandit_sep_theta_combined_uneven_grp_vectorised.py} with
 * {@code utils/collect_data.py}): {@code np.random.seed(seed)}, then in this order the environment's initial state,
 * the training pairs, the test pairs, the validation pairs, the reward model's initialisation (4 normals, unused
 * here), a second environment's initial state, and finally the policy's initial parameter
 * {@code theta0 ~ Uniform(0, 5)^4}. Every method of a seed therefore starts from the same {@code theta0} on the same
 * pairs, and the pairs and {@code theta0} equal the paper's for the same seed.
 *
 * <ul>
 *   <li>Training: {@code trainPairs} pairs, group 0 holds {@code round(group0Share * n)} of them, group 1 the rest,
 *       in a shuffled order. <em>Uneven</em> collection: group 0 compares an action with a neighbour
 *       ({@code a +- 1}, reflected at the ends), group 1 compares {@code a} with {@code a + 4 mod 8}. <em>Even</em>:
 *       two distinct actions drawn uniformly.</li>
 *   <li>Validation: {@code evalPairs} pairs, groups 50/50, collected like the training pairs (uneven or even).</li>
 *   <li>Test: {@code evalPairs} pairs, groups 50/50, always even; only their states are used (reward error).</li>
 * </ul>
 * Preferences are deterministic: the action with the higher true group reward is chosen (the second action on an
 * exact tie, as in the paper's code).
 *
 * @param train training pairs
 * @param validation validation pairs (worst-group validation loss)
 * @param test test pairs (their states evaluate the reward error)
 * @param theta0 initial policy parameter
 */
public record SyntheticData(PreferenceSet train, PreferenceSet validation, PreferenceSet test, double[] theta0) {
  /** Where the paper's code draws {@code theta0} from: {@code Uniform(0, param_limit)} with {@code param_limit = 5}. */
  public static final double PARAM_LIMIT = 5;

  /**
   * How to collect the data.
   *
   * @param uneven uneven collection (group 0 adjacent actions, group 1 opposite actions) for training and validation
   * @param group0Share share of group 0 in the training pairs (0.2 imbalanced, 0.5 balanced)
   * @param trainPairs training pairs (300 in the paper)
   * @param evalPairs validation and test pairs each (1000 in the paper)
   */
  public record Spec(boolean uneven, double group0Share, int trainPairs, int evalPairs) {
    public Spec {
      if (!(group0Share > 0 && group0Share < 1)) {
        throw new IllegalArgumentException("group0Share = " + group0Share + ": must be in (0, 1)");
      }
      if (trainPairs < 2 || evalPairs < 2) {
        throw new IllegalArgumentException("need at least 2 training and 2 evaluation pairs");
      }
      long[] counts = groupCounts(group0Share, trainPairs);
      if (counts[0] < 1 || counts[1] < 1 || counts[0] + counts[1] < trainPairs) {
        throw new IllegalArgumentException("group0Share " + group0Share + " of " + trainPairs + " training pairs "
            + "rounds to " + counts[0] + " + " + counts[1] + " pairs: each group needs at least one and together "
            + "they must cover all of them");
      }
      long[] eval = groupCounts(0.5, evalPairs);
      if (eval[0] + eval[1] < evalPairs) {
        throw new IllegalArgumentException("evalPairs = " + evalPairs + " does not split 50/50 (numpy rounds "
            + (evalPairs / 2.0) + " to " + eval[0] + "); use an even number");
      }
    }
  }

  /** {@code np.round(np.array([share, 1 - share]) * n)}: numpy rounds halves to even, as {@link Math#rint}. */
  static long[] groupCounts(double group0Share, int n) {
    return new long[] {(long) Math.rint(group0Share * n), (long) Math.rint((1 - group0Share) * n)};
  }

  /** Draws the data of one seed. */
  public static SyntheticData generate(long seed, Spec spec, GroupLinearBandit env) {
    NumpyRandom rng = new NumpyRandom(seed);
    rng.uniform(0, 1);   // GroupLinearBanditSep.__init__: cur_state = uniform(0, 1, state_dim)
    rng.uniform(0, 1);
    // Training: the uneven collector also draws the (unused) epsilon of its partly-deterministic labels.
    PreferenceSet train = collect(rng, env, spec.trainPairs(), spec.group0Share(), spec.uneven(), spec.uneven());
    PreferenceSet test = collect(rng, env, spec.evalPairs(), 0.5, false, false);
    PreferenceSet validation = collect(rng, env, spec.evalPairs(), 0.5, spec.uneven(), true);
    for (int i = 0; i < GroupLinearBandit.FEATURE_DIM; i++) {
      rng.standardNormal();   // MLERewardLearning: reward_param = standard_normal(feature_dim)
    }
    rng.uniform(0, 1);   // GroupLinearBandit (learned-reward oracle): cur_state
    rng.uniform(0, 1);
    double[] theta0 = new double[GroupLinearBandit.FEATURE_DIM];
    for (int k = 0; k < theta0.length; k++) {
      theta0[k] = rng.uniform(0, PARAM_LIMIT);
    }
    return new SyntheticData(train, validation, test, theta0);
  }

  @Override
  public double[] theta0() {
    return theta0.clone();
  }

  private static PreferenceSet collect(NumpyRandom rng, GroupLinearBandit env, int n, double group0Share,
                                       boolean uneven, boolean drawEpsilon) {
    // group_counts = np.round(np.array(weights) * num); the id list is shuffled, then cut to n.
    long[] counts = groupCounts(group0Share, n);
    int[] ids = new int[Math.toIntExact(counts[0] + counts[1])];
    for (int i = Math.toIntExact(counts[0]); i < ids.length; i++) {
      ids[i] = 1;
    }
    rng.shuffle(ids);
    if (ids.length < n) {
      throw new IllegalStateException("group counts " + counts[0] + " + " + counts[1] + " < " + n);
    }
    double[] uniform = new double[GroupLinearBandit.ACTIONS];
    java.util.Arrays.fill(uniform, 1.0 / GroupLinearBandit.ACTIONS);
    double[] coin = {0.5, 0.5};
    double[] s0 = new double[n];
    double[] s1 = new double[n];
    int[] group = new int[n];
    int[] chosen = new int[n];
    int[] rejected = new int[n];
    for (int i = 0; i < n; i++) {
      double a = rng.uniform(0, 1);
      double b = rng.uniform(0, 1);
      int g = ids[i];
      int first;
      int second;
      if (uneven) {
        first = rng.choiceWithoutReplacement(uniform, 1)[0];
        if (g % 2 == 0) {
          second = first + 2 * rng.choiceWithoutReplacement(coin, 1)[0] - 1;
          if (second >= GroupLinearBandit.ACTIONS) {
            second = first - 1;
          } else if (second < 0) {
            second = first + 1;
          }
        } else {
          second = (first + GroupLinearBandit.ACTIONS / 2) % GroupLinearBandit.ACTIONS;
        }
      } else {
        int[] pair = rng.choiceWithoutReplacement(uniform, 2);
        first = pair[0];
        second = pair[1];
      }
      if (drawEpsilon) {
        rng.uniform(0, 1);
      }
      boolean firstWins = env.trueReward(a, b, first, g) > env.trueReward(a, b, second, g);
      s0[i] = a;
      s1[i] = b;
      group[i] = g;
      chosen[i] = firstWins ? first : second;
      rejected[i] = firstWins ? second : first;
    }
    return new PreferenceSet(s0, s1, group, chosen, rejected);
  }
}
