package dev.grpo4j;

/** Per-pair preference loss. */
public enum LossType {
  /** Sigmoid loss {@code -(1-eps) log sigmoid(beta h) - eps log sigmoid(-beta h)} (Rafailov et al.). */
  DPO(0),
  /** Squared loss {@code (h/n - 1/(2 beta))^2} (Azar et al.). */
  IPO(1);

  private final int abiCode;

  LossType(int abiCode) {
    this.abiCode = abiCode;
  }

  /** Its value in {@code grpo4j.h}: fixed there, whatever the order of the constants here. */
  int abiCode() {
    return abiCode;
  }
}
