package dev.grpo4j.train;

import static dev.grpo4j.train.TrainConfig.require;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The supervised stage on the chosen responses before preference training; its result is the reference model.
 *
 * @param steps {@code --sft-steps}, 0 for none
 * @param learningRate {@code --sft-lr}
 */
public record SftSpec(@JsonProperty("sftSteps") int steps, @JsonProperty("sftLearningRate") double learningRate) {

  /** No SFT stage (at the {@code train} command's default learning rate). */
  public static final SftSpec NONE = new SftSpec(0, 1e-5);

  public SftSpec {
    require(steps >= 0, "--sft-steps = " + steps + ": must be >= 0");
    require(learningRate > 0 && Double.isFinite(learningRate), "--sft-lr = " + learningRate + ": must be > 0");
  }
}
