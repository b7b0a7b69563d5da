package dev.grpo4j;

/** How group losses combine into the objective J. */
public enum Weighting {
  /**
   * Group robust (GR-DPO / GR-IPO): weights on the simplex, raised by exponentiated gradient toward the
   * groups with high loss on every training call; {@code J = sum_g w_g L_g}.
   */
  ROBUST(0),
  /** Fixed weights {@code w_g ∝ 1/N_g} (IS-DPO / IS-IPO); never updated. */
  IMPORTANCE_SAMPLING(1),
  /** Plain DPO / IPO: {@code J} is the mean of the per-pair losses over the batch. */
  AVERAGE(2);

  private final int abiCode;

  Weighting(int abiCode) {
    this.abiCode = abiCode;
  }

  /** Its value in {@code grpo4j.h}: fixed there, whatever the order of the constants here. */
  int abiCode() {
    return abiCode;
  }
}
