package dev.grpo4j.survey;

import java.util.Objects;

/**
 * One preference pair made from a survey answer distribution, in the trainer's JSON Lines fields.
 *
 * @param prompt the prompt (see {@link SurveyPairs#prompt})
 * @param chosen the letter of the group's most frequent answer, after the letter prefix
 * @param rejected the letter of another option, after the letter prefix
 * @param group the group (country) whose answers decided the pair
 * @param questionIndex 0-based position of the question in the input, for tracing a pair back to its question
 */
public record SurveyPair(String prompt, String chosen, String rejected, String group, int questionIndex) {
  public SurveyPair {
    Objects.requireNonNull(prompt, "prompt");
    Objects.requireNonNull(chosen, "chosen");
    Objects.requireNonNull(rejected, "rejected");
    Objects.requireNonNull(group, "group");
    if (chosen.equals(rejected)) {
      throw new IllegalArgumentException("chosen and rejected are both \"" + chosen + "\": a pair needs two answers");
    }
  }
}
