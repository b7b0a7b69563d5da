package dev.grpo4j.text;

import java.util.Objects;

/**
 * One preference pair as read from a data file, before tokenisation.
 *
 * @param prompt the prompt
 * @param chosen the preferred response (without the prompt)
 * @param rejected the other response (without the prompt); the same kind of content as {@code chosen}
 * @param group the labeller group's label; an integer label in the file is written in decimal
 * @param line 1-based line of the record in its file (its row, for Parquet), for error messages
 */
public record PreferenceRecord(Content prompt, Content chosen, Content rejected, String group, long line) {
  public PreferenceRecord {
    Objects.requireNonNull(prompt, "prompt");
    Objects.requireNonNull(chosen, "chosen");
    Objects.requireNonNull(rejected, "rejected");
    Objects.requireNonNull(group, "group");
    if (group.isEmpty()) {
      throw new IllegalArgumentException("line " + line + ": group must not be empty");
    }
    if (prompt.conversational() != chosen.conversational() || chosen.conversational() != rejected.conversational()) {
      throw new IllegalArgumentException("line " + line + ": prompt, chosen and rejected must all be text or all "
          + "be messages");
    }
  }

  /** A pair of plain texts. */
  public static PreferenceRecord ofText(String prompt, String chosen, String rejected, String group, long line) {
    return new PreferenceRecord(new Content.Text(prompt), new Content.Text(chosen), new Content.Text(rejected), group,
        line);
  }

  /** Whether the pair is chat messages, to be rendered with a chat template. */
  public boolean conversational() {
    return prompt.conversational();
  }
}
