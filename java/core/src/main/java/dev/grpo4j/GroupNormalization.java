package dev.grpo4j;

/** How the pair losses of one group in a batch become that group's loss {@code L_g}. */
public enum GroupNormalization {
  /** Mean over the group's pairs in the batch (Group DRO, Sagawa et al.). */
  BATCH_MEAN(0),
  /**
   * {@code N / (N_g B)} times the sum over the group's pairs: an unbiased estimate of the group's mean loss
   * under uniform batch sampling (the paper's LLM code). Needs the data-set group sizes {@code N_g}.
   */
  DATASET_FREQUENCY(1);

  private final int abiCode;

  GroupNormalization(int abiCode) {
    this.abiCode = abiCode;
  }

  /** Its value in {@code grpo4j.h}: fixed there, whatever the order of the constants here. */
  int abiCode() {
    return abiCode;
  }
}
