package dev.grpo4j.train;

import dev.grpo4j.model.LoraConfig;
import java.nio.file.Path;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * How a run saves its policy: LoRA adapters in PEFT layout, with the record of their base model, or the whole
 * model in Hugging Face layout, with the files that say how to tokenise for it.
 *
 * @param lora the adapters' settings when the policy trains LoRA adapters (only they are saved), else null
 * @param adapterBase the adapters' base model, recorded beside them; null for a whole model
 * @param dtype the dtype a whole model is saved in
 * @param tokenizerSource folder whose tokenizer files are copied beside a whole model; null when the policy reads
 *     bytes (the built-in models), which the saved folder then records instead
 */
public record PolicyLayout(LoraConfig lora, AdapterBase adapterBase, ScalarType dtype, Path tokenizerSource) {
  /** The whole model in {@code dtype}, with the tokenizer of {@code tokenizerSource} (null: bytes). */
  public static PolicyLayout wholeModel(ScalarType dtype, Path tokenizerSource) {
    return new PolicyLayout(null, null, dtype, tokenizerSource);
  }
}
