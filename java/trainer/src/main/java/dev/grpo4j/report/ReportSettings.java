package dev.grpo4j.report;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What {@link RunReport} cannot read from the run folder.
 *
 * @param title heading of the report, e.g. the run's name
 * @param method training method, e.g. {@code GR-DPO}
 * @param hyperParameters settings to list, name to already formatted value, in the map's iteration order (pass a
 *     {@link LinkedHashMap} or a sorted map: the order is part of the report)
 * @param groupNames display names of the groups, in group-index order; empty to take them from
 *     {@code eval.jsonl} (or {@code g0, g1, ...} without evaluations)
 * @param generatedAt a time stamp or other provenance line to print under the title, or {@code null} for none; the
 *     report itself never reads the clock, so the same inputs give the same bytes
 */
public record ReportSettings(String title, String method, Map<String, String> hyperParameters,
                             List<String> groupNames, String generatedAt) {
  /**
   * Checks and copies the arguments.
   *
   * @throws IllegalArgumentException if a group name is repeated or blank
   * @throws NullPointerException if a required argument, a setting or a group name is null
   */
  public ReportSettings {
    Objects.requireNonNull(title, "title");
    Objects.requireNonNull(method, "method");
    LinkedHashMap<String, String> copy = new LinkedHashMap<>();
    Objects.requireNonNull(hyperParameters, "hyperParameters").forEach((name, value) ->
        copy.put(Objects.requireNonNull(name, "setting name"), Objects.requireNonNull(value, "value of " + name)));
    hyperParameters = Collections.unmodifiableMap(copy);
    groupNames = List.copyOf(groupNames);
    for (String name : groupNames) {
      if (name.isBlank()) {
        throw new IllegalArgumentException("group names must not be blank: " + groupNames);
      }
    }
    if (groupNames.stream().distinct().count() != groupNames.size()) {
      throw new IllegalArgumentException("group names must be distinct: " + groupNames);
    }
  }

  /** Settings without a provenance line. */
  public ReportSettings(String title, String method, Map<String, String> hyperParameters, List<String> groupNames) {
    this(title, method, hyperParameters, groupNames, null);
  }
}
