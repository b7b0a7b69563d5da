package dev.grpo4j.model;

/**
 * Whether LoRA adapters take part in the forward pass. Shared by every {@link Projection} of one model, so the
 * reference model of a LoRA run is the same weights with the switch off: no second copy in memory.
 */
final class AdapterSwitch {
  private boolean enabled = true;

  boolean enabled() {
    return enabled;
  }

  void set(boolean enabled) {
    this.enabled = enabled;
  }
}
