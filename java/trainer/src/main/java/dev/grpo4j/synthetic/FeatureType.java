package dev.grpo4j.synthetic;

/**
 * How group 1's feature vector relates to group 0's. Per state coordinate c, with {@code u = a/8 + 1}, group 0
 * always uses {@code [u cos(pi s_c), sin(pi s_c)/u]} (the paper's bandit code, {@code ret_feature_func}).
 */
public enum FeatureType {
  /** The paper's default: group 1 swaps the two entries, {@code [sin(pi s_c)/u, u cos(pi s_c)]}. */
  SWAPPED("swapped"),
  /** Both groups share group 0's features (the groups then differ only in their true parameters). */
  SAME("same"),
  /** Group 1 exchanges sine and cosine but keeps the order of the factors: {@code [u sin(pi s_c), cos(pi s_c)/u]}. */
  FLIPPED("flipped");

  private final String id;

  FeatureType(String id) {
    this.id = id;
  }

  /** The name on the command line and in the paper's code. */
  public String id() {
    return id;
  }

  @Override
  public String toString() {
    return id;
  }
}
