package dev.grpo4j;

/** Per-pair preference loss. */
public enum LossType {
  /** Sigmoid loss {@code -(1-eps) log sigmoid(beta h) - eps log sigmoid(-beta h)} (Rafailov et al.). */
  DPO,
  /** Squared loss {@code (h/n - 1/(2 beta))^2} (Azar et al.). */
  IPO
}
