package dev.grpo4j.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Group ids: positions of the sorted labels (numeric order for integers); counts per group; restored indexes. */
class GroupIndexTest {
  private static List<PreferenceRecord> records(String... groups) {
    List<PreferenceRecord> out = new ArrayList<>();
    for (int i = 0; i < groups.length; i++) {
      out.add(PreferenceRecord.ofText("p", "c", "r", groups[i], i + 1));
    }
    return out;
  }

  @Test
  void integerGroupsAreLabelsInNumericOrderWithoutImpliedGroups() {
    List<PreferenceRecord> data = records("3", "1", "3", "2", "4");
    GroupIndex index = GroupIndex.of(data);
    assertEquals(List.of("1", "2", "3", "4"), index.names(), "groups 1..4 are four groups, not five");
    assertEquals(2, index.id("3"));
    assertArrayEquals(new long[] {1, 1, 2, 1}, index.counts(data), "no empty group 0");
    assertEquals(List.of("10", "20", "30", "40"), GroupIndex.of(records("40", "10", "30", "20")).names(),
        "ids 10..40 are four groups, not 41");
    assertEquals(List.of("-1", "0", "2", "10"), GroupIndex.of(records("10", "2", "0", "-1")).names(),
        "numeric order, negatives included");
    assertEquals(List.of("5000000"), GroupIndex.of(records("5000000")).names(), "any size is a label");
  }

  @Test
  void namedGroupsAreNumberedInLexicographicOrder() {
    List<PreferenceRecord> data = records("US", "India", "UK", "US", "Brazil");
    GroupIndex index = GroupIndex.of(data);
    assertEquals(List.of("Brazil", "India", "UK", "US"), index.names());
    assertEquals(0, index.id("Brazil"));
    assertEquals(3, index.id("US"));
    assertArrayEquals(new long[] {1, 1, 1, 2}, index.counts(data));
  }

  @Test
  void anyNonIntegerLabelSwitchesToStringOrder() {
    assertEquals(List.of("07", "1"), GroupIndex.of(records("1", "07")).names(), "leading zero: a string");
    assertEquals(List.of("10", "2", "a"), GroupIndex.of(records("a", "10", "2")).names(), "string order, not numeric");
  }

  @Test
  void orderOfTheDataDoesNotMatter() {
    assertEquals(GroupIndex.of(records("b", "a", "c")), GroupIndex.of(records("c", "b", "a")));
  }

  @Test
  void explicitNamesKeepTheirOrder() {
    GroupIndex index = GroupIndex.ofNames(List.of("US", "Brazil", "7"));
    assertEquals(1, index.id("Brazil"));
    assertEquals("7", index.name(2));
    assertEquals(3, index.size());
    assertArrayEquals(new long[] {0, 2, 1}, index.counts(records("Brazil", "7", "Brazil")));
  }

  @Test
  void restoringNamesGivesTheSameIndex() {
    GroupIndex fromData = GroupIndex.of(records("2", "0"));
    assertEquals(fromData, GroupIndex.ofNames(fromData.names()));
  }

  @Test
  void unknownGroupErrorListsTheKnownOnes() {
    GroupIndex index = GroupIndex.ofNames(List.of("US", "UK"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> index.id("India"));
    assertTrue(e.getMessage().contains("\"India\"") && e.getMessage().contains("[US, UK]"), e.getMessage());
    IllegalArgumentException counted = assertThrows(IllegalArgumentException.class,
        () -> index.counts(records("US", "India")));
    assertTrue(counted.getMessage().startsWith("line 2: unknown group \"India\""), counted.getMessage());
  }

  @Test
  void badExplicitNamesAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> GroupIndex.ofNames(List.of()));
    IllegalArgumentException twice = assertThrows(IllegalArgumentException.class,
        () -> GroupIndex.ofNames(List.of("a", "b", "a")));
    assertTrue(twice.getMessage().contains("\"a\" is listed twice"), twice.getMessage());
    assertThrows(IllegalArgumentException.class, () -> GroupIndex.ofNames(List.of("a", "")));
    assertThrows(IndexOutOfBoundsException.class, () -> GroupIndex.ofNames(List.of("a")).name(1));
  }
}
