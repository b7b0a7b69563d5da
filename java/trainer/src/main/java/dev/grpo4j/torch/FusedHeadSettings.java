package dev.grpo4j.torch;

import dev.grpo4j.Backend;
import java.util.Locale;
import java.util.Objects;

/**
 * Whether the preference loss is taken through the {@link FusedLmHead} ({@code --fused-head auto|on|off}) and how
 * much memory one chunk of its logits may take ({@code --fused-head-memory}).
 *
 * @param mode {@code auto}: fused whenever the model exposes its head; {@code on}: fused or an error; {@code off}: the
 *     model's whole logits and the fused logits loss, as before the fused head existed
 * @param memoryBytes logits memory per chunk
 */
public record FusedHeadSettings(Mode mode, long memoryBytes) {
  /** The three modes of {@code --fused-head}. */
  public enum Mode {
    AUTO, ON, OFF;

    /** {@code auto}, {@code on} or {@code off}, any case. */
    public static Mode named(String name) {
      try {
        return valueOf(Objects.requireNonNull(name, "name").toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--fused-head \"" + name + "\": use auto, on or off", e);
      }
    }
  }

  public FusedHeadSettings {
    Objects.requireNonNull(mode, "mode");
    if (memoryBytes < 1) {
      throw new IllegalArgumentException("--fused-head-memory must be at least 1 MB");
    }
  }

  /** The default: {@code auto} with {@link FusedLmHead#DEFAULT_MEMORY_BUDGET}. */
  public static FusedHeadSettings defaults() {
    return new FusedHeadSettings(Mode.AUTO, FusedLmHead.DEFAULT_MEMORY_BUDGET);
  }

  /**
   * The fused head for {@code model}, or null when the loss should take its logits.
   *
   * @throws IllegalArgumentException for {@code on} with a model whose head cannot be split off
   */
  public FusedLmHead resolve(CausalLm model, Backend backend, int threads, long cudaStream) {
    if (mode == Mode.OFF) {
      return null;
    }
    if (model.head() == null) {
      if (mode == Mode.ON) {
        throw new IllegalArgumentException("--fused-head on: " + model.getClass().getSimpleName() + " does not "
            + "expose its LM head; use --fused-head auto or off");
      }
      return null;
    }
    return FusedLmHead.withMemoryBudget(backend, threads, cudaStream, memoryBytes);
  }
}
