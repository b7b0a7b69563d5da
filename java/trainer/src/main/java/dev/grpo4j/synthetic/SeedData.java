package dev.grpo4j.synthetic;

/**
 * Everything the runs of one seed share, read-only: the drawn data, the encoded training and validation pairs and
 * the reward evaluator of the test states.
 */
public final class SeedData {
  private final long seed;
  private final SyntheticData data;
  private final int groups;
  final BanditFeatures train;
  final BanditFeatures validation;
  final RewardEvaluator rewards;

  /** Draws seed {@code seed}'s data as the paper's code does. */
  public SeedData(long seed, SyntheticData.Spec spec, GroupLinearBandit env) {
    this(seed, SyntheticData.generate(seed, spec, env), env);
  }

  /** Wraps given data (tests build small or single-group cases this way). */
  public SeedData(long seed, SyntheticData data, GroupLinearBandit env) {
    this.seed = seed;
    this.data = data;
    int maxGroup = 0;
    for (PreferenceSet set : new PreferenceSet[] {data.train(), data.validation()}) {
      for (int g : set.group()) {
        maxGroup = Math.max(maxGroup, g);
      }
    }
    this.groups = maxGroup + 1;
    this.train = new BanditFeatures(data.train(), env);
    this.validation = new BanditFeatures(data.validation(), env);
    this.rewards = new RewardEvaluator(data.test(), env);
  }

  public long seed() {
    return seed;
  }

  public SyntheticData data() {
    return data;
  }

  /** Number of groups K of the loss: one more than the largest group id in the training and validation pairs. */
  public int groups() {
    return groups;
  }

  /** Training pairs per group, {@code N_g}. */
  public long[] trainGroupCounts() {
    return data.train().groupCounts(groups);
  }
}
