package dev.grpo4j.model.family;

import dev.grpo4j.model.ConfigJson;
import dev.grpo4j.model.DecoderOptions;
import java.util.List;

/**
 * One {@code model_type}: how its decoder differs from Llama's, read from its {@code config.json}, and the defaults
 * its transformers configuration class gives fields a file leaves out. One small file per family; {@link
 * ModelFamilies} lists them.
 */
public interface ModelFamily {
  /** The {@code model_type} of its {@code config.json}. */
  String modelType();

  /** Checkpoints of this family, for messages and the README. */
  String examples();

  /** What differs from Llama, in a few words. */
  String differences();

  /** The decoder a {@code config.json} of this family describes, for {@code layers} layers. */
  DecoderOptions decoder(ConfigJson json, int layers);

  /** The attention's linear layers by their Hugging Face names: LoRA's default targets. */
  default List<String> attentionProjections() {
    return List.of("q_proj", "k_proj", "v_proj", "o_proj");
  }

  /** {@code head_dim} when the file leaves it out. */
  default int defaultHeadDim(int hidden, int heads) {
    return hidden / heads;
  }

  /** {@code tie_word_embeddings} when the file leaves it out. */
  default boolean defaultTiedHead() {
    return false;
  }

  /** {@code rms_norm_eps} when the file leaves it out. */
  default double defaultNormEps() {
    return 1e-6;
  }
}
