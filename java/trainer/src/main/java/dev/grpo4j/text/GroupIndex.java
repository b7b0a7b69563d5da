package dev.grpo4j.text;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Group names of a data set mapped to the ids {@code 0..K-1} the loss uses, deterministically.
 *
 * <p>If every group is a non-negative integer written in canonical decimal ({@code 0}, {@code 7}, not {@code 07}),
 * the integer is the id and K is the largest plus one, so ids agree with the data's own numbering; groups missing
 * from the data then exist with no pairs (an integer of {@value #MAX_NUMBERED_GROUPS} or more is refused as an
 * id). Otherwise the ids follow the lexicographic order of the names. A saved
 * index is restored with {@link #of(List)}, which takes the names in id order.
 */
public final class GroupIndex {
  private static final Pattern CANONICAL_INTEGER = Pattern.compile("0|[1-9][0-9]{0,9}");
  /** Largest K that integer group names may imply; beyond it they are almost surely not 0-based ids. */
  public static final int MAX_NUMBERED_GROUPS = 1 << 16;
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
   * The groups of {@code records}: integer ids as written if all are non-negative integers, lexicographic order
   * otherwise.
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
    long largest = -1;
    for (String name : distinct) {
      if (!CANONICAL_INTEGER.matcher(name).matches()) {
        return new GroupIndex(new ArrayList<>(distinct));
      }
      largest = Math.max(largest, Long.parseLong(name));
    }
    if (largest >= MAX_NUMBERED_GROUPS) {
      throw new IllegalArgumentException("group " + largest + " would be id " + largest + " among " + (largest + 1)
          + " groups, only " + distinct.size() + " of which have data: integer groups are used as ids 0..K-1; "
          + "renumber them from 0, or give them non-numeric names (which are numbered in sorted order)");
    }
    List<String> numbered = new ArrayList<>((int) largest + 1);
    for (int id = 0; id <= largest; id++) {
      numbered.add(Integer.toString(id));
    }
    return new GroupIndex(numbered);
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
