package dev.grpo4j.text;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Group labels of a data set mapped to the ids {@code 0..K-1} the loss uses, deterministically: every distinct
 * label is one group, and there are no others. Labels that are all integers ({@code 1}, {@code 40}, {@code -3}) are
 * ordered by value, so {@code 2} comes before {@code 10}; otherwise labels are ordered as strings. Ids are
 * positions in that order, never the labels' own values: groups {@code 1..4} are four groups with ids
 * {@code 0..3}, and groups {@code 10, 20, 30} are three. A saved index is restored with {@link #ofNames(List)},
 * which takes the labels in id order.
 */
public final class GroupIndex {
  /** Integers as the data reader writes them (decimal, no leading zeros or plus sign). */
  private static final Pattern CANONICAL_INTEGER = Pattern.compile("0|-?[1-9][0-9]*");
  /** Names listed in full by an unknown-group error; beyond this they are elided. */
  private static final int NAMES_SHOWN = 20;

  private final List<String> names;
  private final Map<String, Integer> ids;

  private GroupIndex(List<String> names) {
    this.names = List.copyOf(names);
    this.ids = new HashMap<>();
    for (int id = 0; id < this.names.size(); id++) {
      String name = this.names.get(id);
      if (name.isEmpty()) {
        throw new IllegalArgumentException("group name " + id + " is empty: names must be non-empty");
      }
      if (ids.putIfAbsent(name, id) != null) {
        throw new IllegalArgumentException("group name \"" + name + "\" is listed twice (ids " + ids.get(name)
            + " and " + id + "): names must be distinct");
      }
    }
  }

  /**
   * The groups of {@code records}: one per distinct label, in numeric order if every label is an integer, in
   * string order otherwise.
   *
   * @param records at least one record
   * @return the index
   */
  public static GroupIndex of(List<PreferenceRecord> records) {
    Objects.requireNonNull(records, "records");
    if (records.isEmpty()) {
      throw new IllegalArgumentException("records is empty: need at least one record to index its groups");
    }
    TreeSet<String> distinct = new TreeSet<>();
    for (PreferenceRecord r : records) {
      distinct.add(r.group());
    }
    boolean allIntegers = distinct.stream().allMatch(name -> CANONICAL_INTEGER.matcher(name).matches());
    List<String> ordered = new ArrayList<>(distinct);
    if (allIntegers) {
      ordered.sort(Comparator.comparing(BigInteger::new));
    }
    return new GroupIndex(ordered);
  }

  /**
   * An explicit index, for example restored from a checkpoint: group {@code i} is {@code names.get(i)}.
   *
   * @param names distinct non-empty names in id order, at least one
   * @return the index
   */
  public static GroupIndex ofNames(List<String> names) {
    Objects.requireNonNull(names, "names");
    if (names.isEmpty()) {
      throw new IllegalArgumentException("names is empty: need at least one group");
    }
    return new GroupIndex(names);
  }

  /**
   * The id of a group.
   *
   * @throws IllegalArgumentException if the group is not in the index
   */
  public int id(String group) {
    Integer id = ids.get(group);
    if (id == null) {
      throw new IllegalArgumentException("unknown group \"" + group + "\": the known groups are " + shownNames()
          + "; the data must use the groups the index (or the checkpoint it came from) was built with");
    }
    return id;
  }

  /** The name of group {@code id}. */
  public String name(int id) {
    if (id < 0 || id >= names.size()) {
      throw new IndexOutOfBoundsException("group id " + id + " is outside 0.." + (names.size() - 1));
    }
    return names.get(id);
  }

  /** Number of groups K. */
  public int size() {
    return names.size();
  }

  /** The names in id order. */
  public List<String> names() {
    return names;
  }

  /**
   * Pairs per group {@code N_g}, indexed by id: the dataset-frequency weights of the group-robust loss.
   *
   * @throws IllegalArgumentException if a record's group is not in the index (the message names its line)
   */
  public long[] counts(List<PreferenceRecord> records) {
    long[] counts = new long[names.size()];
    for (PreferenceRecord r : records) {
      Integer id = ids.get(r.group());
      if (id == null) {
        throw new IllegalArgumentException("line " + r.line() + ": unknown group \"" + r.group()
            + "\": the known groups are " + shownNames());
      }
      counts[id]++;
    }
    return counts;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof GroupIndex other && names.equals(other.names);
  }

  @Override
  public int hashCode() {
    return names.hashCode();
  }

  @Override
  public String toString() {
    return "GroupIndex" + shownNames();
  }

  private String shownNames() {
    if (names.size() <= NAMES_SHOWN) {
      return names.toString();
    }
    return names.subList(0, NAMES_SHOWN).toString().replaceFirst("]$", ", ... (" + names.size() + " in all)]");
  }
}
