package dev.grpo4j.text;

import java.util.Objects;

/**
 * One preference pair as text, as read from a data file.
 *
 * @param prompt the prompt, not empty
 * @param chosen the preferred response (without the prompt), not empty
 * @param rejected the other response (without the prompt), not empty
 * @param group the labeller group's label; an integer label in the file is written in decimal
 * @param line 1-based line of the record in its file, for error messages
 */
public record PreferenceRecord(String prompt, String chosen, String rejected, String group, long line) {
  public PreferenceRecord {
    Objects.requireNonNull(prompt, "prompt");
    Objects.requireNonNull(chosen, "chosen");
    Objects.requireNonNull(rejected, "rejected");
    Objects.requireNonNull(group, "group");
    if (prompt.isEmpty() || chosen.isEmpty() || rejected.isEmpty() || group.isEmpty()) {
      throw new IllegalArgumentException("line " + line + ": prompt, chosen, rejected and group must not be empty");
    }
  }
}
