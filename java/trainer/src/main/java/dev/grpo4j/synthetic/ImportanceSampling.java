package dev.grpo4j.synthetic;

/**
 * What IS-DPO / IS-IPO reweight, both expressed through {@link dev.grpo4j.Weighting#IMPORTANCE_SAMPLING}.
 *
 * <p>With full batches ({@code n_g = N_g}, {@code B = N}) the two differ as follows: {@link #GROUP_MEAN} minimises
 * {@code sum_g w_g L_g} with {@code w_g ∝ 1/N_g} on each group's mean loss {@code L_g} (SPEC §2, the kernel's
 * definition); {@link #PER_PAIR} minimises {@code (1/B) sum_i w_{g_i} l_i}, each pair's loss weighted by
 * {@code w_g ∝ 1/N_g} (the paper's bandit code, {@code importance_sampling=True}), which equals
 * {@code c * (1/K) sum_g L_g} with {@code c = K / (B sum_g 1/N_g)}: equal weights on the group means, at a step scaled
 * by c (0.32 for 60/240 pairs, 0.5 for 150/150).
 */
public enum ImportanceSampling {
  /** The kernel's IMPORTANCE_SAMPLING with the training group sizes: {@code w_g ∝ 1/N_g} on the group means. */
  GROUP_MEAN("group-mean"),
  /**
   * The paper's code: the kernel's IMPORTANCE_SAMPLING with equal group sizes (equal weights on the group means) and
   * the gradient scaled by {@code K / (B sum_g 1/N_g)}.
   */
  PER_PAIR("per-pair");

  private final String id;

  ImportanceSampling(String id) {
    this.id = id;
  }

  public String id() {
    return id;
  }

  /** Parses {@code group-mean} or {@code per-pair}. */
  public static ImportanceSampling parse(String text) {
    String key = text.strip().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    for (ImportanceSampling v : values()) {
      if (v.id.equals(key)) {
        return v;
      }
    }
    throw new IllegalArgumentException("unknown importance-sampling variant '" + text + "'; choose group-mean or "
        + "per-pair");
  }

  @Override
  public String toString() {
    return id;
  }
}
