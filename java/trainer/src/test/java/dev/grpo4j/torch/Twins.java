package dev.grpo4j.torch;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupRobustLoss;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;

/**
 * Two AdamW preference trainers for the same steps: one through the fused LM head in chunks of 7 positions (so that
 * every batch spans several), one through the whole logits.
 */
record Twins(PreferenceTrainer fused, PreferenceTrainer whole) {
  static Twins of(CausalLm fusedModel, GroupRobustLoss fusedLoss, CausalLm wholeModel, GroupRobustLoss wholeLoss,
                  double learningRate) {
    return new Twins(
        new PreferenceTrainer(fusedModel, new AdamW(fusedModel.parameters(), new AdamWOptions(learningRate)),
            new TorchPreferenceLoss(fusedLoss), FusedLmHead.withChunkTokens(Backend.CPU, 2, 0, 7)),
        new PreferenceTrainer(wholeModel, new AdamW(wholeModel.parameters(), new AdamWOptions(learningRate)),
            new TorchPreferenceLoss(wholeLoss), null));
  }
}
