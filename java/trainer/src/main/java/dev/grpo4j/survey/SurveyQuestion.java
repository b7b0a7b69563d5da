package dev.grpo4j.survey;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * One multiple-choice survey question with each group's answer distribution, as in Anthropic's GlobalOpinionQA
 * ({@code question}, {@code options}, {@code selections}).
 *
 * <p>A group's shares may be probabilities, percentages or raw counts: only their order matters. An empty share list
 * means the group has no answers to this question. Questions with fewer than two options are allowed here, as the
 * data sets hold some; {@link SurveyPairs} skips them. Without options, the shares' lengths are not checked.
 *
 * @param origin where the question came from ({@code file:line (record n)}), for messages
 * @param question the question text
 * @param options the answer options in the order they are lettered A, B, C, ...
 * @param selections group name to its shares, aligned with {@code options} (or empty); iteration order is kept
 */
public record SurveyQuestion(String origin, String question, List<String> options,
                             Map<String, List<Double>> selections) {
  /**
   * Checks and copies the fields.
   *
   * @throws IllegalArgumentException (message starting with {@code origin}) if a group name is empty, a non-empty
   *     share list's length differs from the (non-zero) number of options, or a share is negative or not finite
   */
  public SurveyQuestion {
    Objects.requireNonNull(origin, "origin");
    Objects.requireNonNull(question, "question");
    options = List.copyOf(options);
    Map<String, List<Double>> copy = new LinkedHashMap<>();
    for (Map.Entry<String, List<Double>> e : selections.entrySet()) {
      String group = Objects.requireNonNull(e.getKey(), "group");
      List<Double> shares = List.copyOf(e.getValue());
      if (group.isBlank()) {
        throw new IllegalArgumentException(origin + ": a group name is empty; every group needs a name");
      }
      // Without options the question is skipped whatever the shares say.
      if (!shares.isEmpty() && !options.isEmpty() && shares.size() != options.size()) {
        throw new IllegalArgumentException(origin + ": group \"" + group + "\" has " + shares.size() + " shares for "
            + options.size() + " options " + options + "; each group needs one share per option, in option order");
      }
      for (int i = 0; i < shares.size(); i++) {
        double share = shares.get(i);
        if (!Double.isFinite(share) || share < 0) {
          throw new IllegalArgumentException(origin + ": group \"" + group + "\" has share " + share + " for option "
              + (i + 1) + " (\"" + options.get(i)
              + "\"); shares must be finite and >= 0");
        }
      }
      copy.put(group, shares);
    }
    selections = Collections.unmodifiableMap(copy);
  }

  /** This question with only the groups in {@code groups} (in this question's order). */
  public SurveyQuestion onlyGroups(Set<String> groups) {
    Map<String, List<Double>> kept = new LinkedHashMap<>();
    selections.forEach((group, shares) -> {
      if (groups.contains(group)) {
        kept.put(group, shares);
      }
    });
    return new SurveyQuestion(origin, question, options, kept);
  }
}
