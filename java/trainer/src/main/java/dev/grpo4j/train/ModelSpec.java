package dev.grpo4j.train;

import static dev.grpo4j.train.TrainConfig.require;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.grpo4j.model.LoraConfig;
import java.util.List;

/**
 * What a run trains: the model, its tokenizer, dtype and device, and whether LoRA adapters or every weight.
 *
 * @param name Hugging Face model folder or built-in name ({@code --model})
 * @param adapter PEFT adapter folder to continue training, or null ({@code --adapter})
 * @param tokenizer tokenizer folder, {@code bytes}, or null for the model's ({@code --tokenizer})
 * @param dtype parameter dtype name, or null for the device's default ({@code --dtype})
 * @param device {@code cpu} or {@code cuda} ({@code --device})
 * @param lora LoRA settings of fresh adapters, or null for full fine-tuning ({@code --lora-rank} and friends)
 */
public record ModelSpec(@JsonProperty("model") String name, String adapter, String tokenizer, String dtype,
    String device, LoraSettings lora) {

  public ModelSpec {
    require(!"float16".equals(dtype) && !"fp16".equals(dtype), "--dtype " + dtype + ": float16 training needs loss "
        + "scaling and float32 master weights, which grpo4j does not do, and diverges within a few steps; train in "
        + "bfloat16 (the same memory, float32's range) or float32 (float16 models are fine for eval and score)");
    require(name != null && !name.isBlank(), "--model is required: a Hugging Face folder or tiny-llama / tiny-qwen2");
    if (lora != null) {
      require(adapter == null, "--adapter and --lora-rank both given: continue the adapter's training without "
          + "--lora-rank, or start fresh adapters without --adapter");
      lora.toConfig("");
    }
  }

  /** Full fine-tuning of {@code name} on the CPU, with its own tokenizer and the device's default dtype. */
  public static ModelSpec of(String name) {
    return new ModelSpec(name, null, null, null, "cpu", null);
  }

  /** Whether the policy trains LoRA adapters (fresh or continued) rather than every weight. */
  public boolean usesAdapters() {
    return lora != null || adapter != null;
  }

  /**
   * LoRA settings of adapters the run attaches.
   *
   * @param rank {@code --lora-rank}
   * @param alpha {@code --lora-alpha}
   * @param dropout {@code --lora-dropout}
   * @param targetModules {@code --lora-targets}
   */
  public record LoraSettings(int rank, double alpha, double dropout, List<String> targetModules) {
    /** The PEFT configuration, checked. */
    public LoraConfig toConfig(String baseModel) {
      return new LoraConfig(rank, alpha, dropout, targetModules, baseModel);
    }
  }
}
