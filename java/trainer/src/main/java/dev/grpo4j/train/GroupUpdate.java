package dev.grpo4j.train;

import java.util.Arrays;
import java.util.Locale;

/**
 * When the group weights move under gradient accumulation ({@code --group-update}): after every micro-batch, on
 * its own pairs (as one fused call does), or once per optimiser step on the group statistics of all its
 * micro-batches, the gradients of which then all use the weights the step started with.
 */
public enum GroupUpdate {
  PER_MICRO_BATCH,
  PER_STEP;

  /** The command-line and run-file name: {@code per-micro-batch}, {@code per-step}. */
  public String cliName() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /**
   * The value called {@code name}.
   *
   * @throws IllegalArgumentException naming the valid values if there is none
   */
  public static GroupUpdate parse(String name) {
    String key = name.strip().toUpperCase(Locale.ROOT).replace('-', '_');
    for (GroupUpdate u : values()) {
      if (u.name().equals(key)) {
        return u;
      }
    }
    throw new IllegalArgumentException("--group-update " + name + ": use one of "
        + Arrays.stream(values()).map(GroupUpdate::cliName).toList());
  }
}
