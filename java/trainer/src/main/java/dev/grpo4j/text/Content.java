package dev.grpo4j.text;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A prompt or response as a data file gives it: plain text (TRL's standard format) or chat messages (its
 * conversational format), which the model's chat template turns into text.
 */
public sealed interface Content permits Content.Text, Content.Messages {
  /** Whether this is a list of messages. */
  default boolean conversational() {
    return this instanceof Messages;
  }

  /**
   * Plain text.
   *
   * @param text not empty
   */
  record Text(String text) implements Content {
    public Text {
      Objects.requireNonNull(text, "text");
      if (text.isEmpty()) {
        throw new IllegalArgumentException("text is empty");
      }
    }

    @Override
    public String toString() {
      return text;
    }
  }

  /**
   * Chat messages, each a map with a string {@code role} and usually a {@code content}, plus whatever else the data
   * holds for it ({@code tool_calls}, {@code name}, ...); all of it is passed to the chat template.
   *
   * @param messages at least one; copied, unmodifiable
   */
  record Messages(List<Map<String, Object>> messages) implements Content {
    public Messages {
      Objects.requireNonNull(messages, "messages");
      if (messages.isEmpty()) {
        throw new IllegalArgumentException("messages is empty");
      }
      List<Map<String, Object>> copy = new ArrayList<>(messages.size());
      for (Map<String, Object> m : messages) {
        if (!(m.get("role") instanceof String role) || role.isEmpty()) {
          throw new IllegalArgumentException("every message needs a non-empty string \"role\", got " + m);
        }
        copy.add(Collections.unmodifiableMap(new LinkedHashMap<>(m)));
      }
      messages = List.copyOf(copy);
    }

    /** These messages followed by {@code more}'s. */
    public Messages then(Messages more) {
      List<Map<String, Object>> all = new ArrayList<>(messages);
      all.addAll(more.messages());
      return new Messages(all);
    }

    @Override
    public String toString() {
      return messages.toString();
    }
  }
}
