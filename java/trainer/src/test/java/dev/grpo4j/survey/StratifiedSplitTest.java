package dev.grpo4j.survey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Per-group split sizes, percentages, and the split's determinism. */
class StratifiedSplitTest {
  private static final StratifiedSplit.Fractions DEFAULT = StratifiedSplit.Fractions.DEFAULT;

  /** An item: its group and its position in the input. */
  private record Item(String group, int index) {}

  private static StratifiedSplit.Sizes sizes(int n, StratifiedSplit.Fractions fractions) {
    return StratifiedSplit.sizes(n, fractions);
  }

  @Test
  void everyGroupOfThreeOrMoreGetsAValidationAndATestPair() {
    assertEquals(new StratifiedSplit.Sizes(8, 1, 1, false), sizes(10, DEFAULT));
    assertEquals(new StratifiedSplit.Sizes(1, 1, 1, false), sizes(3, DEFAULT));
    assertEquals(new StratifiedSplit.Sizes(2, 1, 1, false), sizes(4, DEFAULT));
    assertEquals(new StratifiedSplit.Sizes(3, 1, 1, false), sizes(5, DEFAULT), "0.5 rounds up to 1");
    assertEquals(new StratifiedSplit.Sizes(11, 2, 2, false), sizes(15, DEFAULT), "1.5 rounds up to 2");
    assertEquals(new StratifiedSplit.Sizes(80, 10, 10, false), sizes(100, DEFAULT));
    assertEquals(new StratifiedSplit.Sizes(0, 0, 0, false), sizes(0, DEFAULT));
  }

  @Test
  void smallerGroupsGoToTrainWhole() {
    assertEquals(new StratifiedSplit.Sizes(2, 0, 0, true), sizes(2, DEFAULT));
    assertEquals(new StratifiedSplit.Sizes(1, 0, 0, true), sizes(1, DEFAULT));
    assertEquals(3, DEFAULT.minimumToSplit());
  }

  @Test
  void zeroPercentPartsStayEmpty() {
    StratifiedSplit.Fractions trainOnly = StratifiedSplit.Fractions.parse("100,0,0");
    assertEquals(new StratifiedSplit.Sizes(2, 0, 0, false), sizes(2, trainOnly), "nothing to warn about");
    StratifiedSplit.Fractions noTest = StratifiedSplit.Fractions.parse("90,10,0");
    assertEquals(new StratifiedSplit.Sizes(1, 1, 0, false), sizes(2, noTest));
    assertEquals(new StratifiedSplit.Sizes(9, 1, 0, false), sizes(10, noTest));
    StratifiedSplit.Fractions evalOnly = StratifiedSplit.Fractions.parse("0,50,50");
    assertEquals(new StratifiedSplit.Sizes(0, 1, 2, false), sizes(3, evalOnly), "a tie gives from validation");
    StratifiedSplit.Fractions halves = StratifiedSplit.Fractions.parse("50, 25, 25");
    assertEquals(new StratifiedSplit.Sizes(1, 1, 1, false), sizes(3, halves));
    assertEquals(new StratifiedSplit.Sizes(4, 2, 2, false), sizes(8, halves));
  }

  @Test
  void splitPercentagesAreCheckedWithTheReason() {
    assertEquals(new StratifiedSplit.Fractions(70, 15, 15), StratifiedSplit.Fractions.parse("70,15,15"));
    assertEquals(new StratifiedSplit.Fractions(80, 10, 10), StratifiedSplit.Fractions.parse(" 80 , 10 , 10 "));
    assertEquals(new StratifiedSplit.Fractions(80, 12.5, 7.5), StratifiedSplit.Fractions.parse("80,12.5,7.5"));
    assertEquals("80,12.5,7.5", StratifiedSplit.Fractions.parse("80,12.5,7.5").toString());

    String sum = assertThrows(IllegalArgumentException.class, () -> StratifiedSplit.Fractions.parse("80,30,10"))
        .getMessage();
    assertEquals("split 80,30,10: the train, validation and test percentages must add up to 100, not 120, e.g. "
        + "80,10,10", sum);
    String count = assertThrows(IllegalArgumentException.class, () -> StratifiedSplit.Fractions.parse("80,20"))
        .getMessage();
    assertTrue(count.contains("expected three comma-separated percentages"), count);
    String number = assertThrows(IllegalArgumentException.class, () -> StratifiedSplit.Fractions.parse("80,ten,10"))
        .getMessage();
    assertTrue(number.contains("'ten' is not a number"), number);
    String negative = assertThrows(IllegalArgumentException.class,
        () -> StratifiedSplit.Fractions.parse("110,-5,-5")).getMessage();
    assertTrue(negative.contains(">= 0"), negative);
  }

  @Test
  void splitIsAPartitionWithTheRightSizesPerGroupInInputOrder() {
    List<Item> items = items();
    StratifiedSplit.Split<Item> split = StratifiedSplit.split(items, Item::group, DEFAULT, 0);

    assertEquals(List.of("France", "Germany", "Japan"),
        split.groups().stream().map(StratifiedSplit.GroupCounts::group).toList(), "groups in name order");
    assertEquals(new StratifiedSplit.Sizes(1, 1, 1, false), split.groups().get(0).sizes());
    assertEquals(new StratifiedSplit.Sizes(8, 1, 1, false), split.groups().get(1).sizes());
    assertEquals(new StratifiedSplit.Sizes(2, 0, 0, true), split.groups().get(2).sizes());
    assertEquals(11, split.train().size());
    assertEquals(2, split.validation().size());
    assertEquals(2, split.test().size());
    for (String group : List.of("France", "Germany")) {
      assertEquals(1, split.validation().stream().filter(i -> i.group().equals(group)).count(), group);
      assertEquals(1, split.test().stream().filter(i -> i.group().equals(group)).count(), group);
    }

    Set<Item> seen = new HashSet<>();
    for (List<Item> part : List.of(split.train(), split.validation(), split.test())) {
      for (int i = 1; i < part.size(); i++) {
        assertTrue(part.get(i - 1).index() < part.get(i).index(), "each part keeps the input order: " + part);
      }
      for (Item item : part) {
        assertTrue(seen.add(item), item + " is in two parts");
      }
    }
    assertEquals(new HashSet<>(items), seen, "every item is in a part");
  }

  @Test
  void splitIsDeterministicForASeedAndDiffersForAnother() {
    List<Item> items = items();
    StratifiedSplit.Split<Item> first = StratifiedSplit.split(items, Item::group, DEFAULT, 3);
    assertEquals(first, StratifiedSplit.split(items, Item::group, DEFAULT, 3));
    boolean differs = false;
    for (long seed = 4; seed < 8 && !differs; seed++) {
      StratifiedSplit.Split<Item> other = StratifiedSplit.split(items, Item::group, DEFAULT, seed);
      assertEquals(first.groups(), other.groups(), "sizes do not depend on the seed");
      differs = !other.validation().equals(first.validation()) || !other.test().equals(first.test());
    }
    assertTrue(differs, "other seeds pick other validation and test pairs");
  }

  @Test
  void aGroupsSplitDoesNotDependOnTheOtherGroups() {
    List<Item> items = items();
    List<Item> germany = items.stream().filter(i -> i.group().equals("Germany")).toList();
    StratifiedSplit.Split<Item> all = StratifiedSplit.split(items, Item::group, DEFAULT, 9);
    StratifiedSplit.Split<Item> alone = StratifiedSplit.split(germany, Item::group, DEFAULT, 9);
    assertEquals(alone.test(), all.test().stream().filter(i -> i.group().equals("Germany")).toList());
    assertEquals(alone.validation(), all.validation().stream().filter(i -> i.group().equals("Germany")).toList());
    assertFalse(alone.groups().getFirst().sizes().tooSmall());
  }

  /** Germany 10 items, France 3, Japan 2, interleaved. */
  private static List<Item> items() {
    List<Item> items = new ArrayList<>();
    for (int q = 0; q < 10; q++) {
      items.add(new Item("Germany", items.size()));
      if (q < 3) {
        items.add(new Item("France", items.size()));
      }
      if (q < 2) {
        items.add(new Item("Japan", items.size()));
      }
    }
    return items;
  }
}
