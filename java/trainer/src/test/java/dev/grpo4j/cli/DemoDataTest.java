package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.text.PreferenceData;
import dev.grpo4j.text.PreferenceRecord;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo's synthetic preference data: group shares, determinism, agreement and disagreement, split design. */
class DemoDataTest {
  private static final DemoData DATA = DemoData.generate(42);

  @Test
  void trainingPairsFollowTheGroupShares() {
    long[] sizes = DATA.trainGroupSizes();
    assertArrayEquals(new long[] {1800, 750, 300, 150}, sizes, "60/25/10/5 % of 3000");
    long[] counted = new long[DATA.groups()];
    for (DemoData.Pair p : DATA.train()) {
      counted[p.group()]++;
    }
    assertArrayEquals(sizes, counted, "trainGroupSizes() matches the pairs");
  }

  @Test
  void sharesSumExactlyForAnyTotal() {
    DemoData odd = DemoData.generate(3, new DemoData.Size(6, 3, 997));
    long[] sizes = odd.trainGroupSizes();
    assertEquals(997, sizes[0] + sizes[1] + sizes[2] + sizes[3]);
    for (int g = 0; g < sizes.length; g++) {
      assertEquals(DemoData.GROUP_SHARES.get(g) * 997, sizes[g], 1.0, "group " + g);
    }
  }

  @Test
  void testSplitIsBalancedOverGroups() {
    long[] counted = new long[DATA.groups()];
    for (DemoData.Pair p : DATA.test()) {
      counted[p.group()]++;
    }
    // Three comparisons two or three places apart per question, for each of the 24 questions.
    assertArrayEquals(new long[] {72, 72, 72, 72}, counted);
  }

  @Test
  void sameSeedGivesTheSameDataAndOtherSeedsDiffer() {
    DemoData again = DemoData.generate(42);
    assertEquals(DATA.questions(), again.questions());
    assertEquals(DATA.train(), again.train());
    assertEquals(DATA.test(), again.test());
    DemoData other = DemoData.generate(43);
    assertNotEquals(DATA.questions(), other.questions());
    assertNotEquals(DATA.train(), other.train());
  }

  @Test
  void groupsDisagreeOnContestedQuestionsOnly() {
    long contested = DATA.questions().stream().filter(DemoData.Question::contested).count();
    assertEquals(12, contested, "half of the 24 questions");
    for (int q = 0; q < DATA.questions().size(); q++) {
      Set<Integer> favourites = new HashSet<>();
      Set<List<Integer>> rankings = new HashSet<>();
      for (int g = 0; g < DATA.groups(); g++) {
        favourites.add(DATA.ranking(g, q).getFirst());
        rankings.add(DATA.ranking(g, q));
      }
      if (DATA.questions().get(q).contested()) {
        assertEquals(DATA.groups(), favourites.size(), "question " + q + ": every group prefers a different answer");
      } else {
        assertEquals(1, rankings.size(), "question " + q + ": every group ranks the answers alike");
      }
    }
  }

  @Test
  void contestedPairsFlipBetweenGroupsAndSharedPairsNever() {
    // Same question, same two answers, different groups: the labels must differ somewhere on contested
    // questions and nowhere on shared ones.
    boolean flipSeen = false;
    for (DemoData.Pair a : DATA.test()) {
      for (DemoData.Pair b : DATA.test()) {
        boolean sameComparison = a.question() == b.question() && a.group() != b.group()
            && Set.of(a.chosen(), a.rejected()).equals(Set.of(b.chosen(), b.rejected()));
        if (!sameComparison) {
          continue;
        }
        boolean agree = a.chosen().equals(b.chosen());
        if (DATA.questions().get(a.question()).contested()) {
          flipSeen |= !agree;
        } else {
          assertTrue(agree, "shared question " + a.question() + " labelled differently by " + a.group() + " and "
              + b.group());
        }
      }
    }
    assertTrue(flipSeen, "some contested comparison is labelled differently by two groups");
  }

  @Test
  void pairsAreConsistentWithTheGroupsRankings() {
    for (List<DemoData.Pair> split : List.of(DATA.train(), DATA.validation(), DATA.test())) {
      for (DemoData.Pair p : split) {
        List<Integer> ranking = DATA.ranking(p.group(), p.question());
        int chosen = DemoData.ANSWERS.indexOf(p.chosen());
        int rejected = DemoData.ANSWERS.indexOf(p.rejected());
        assertTrue(ranking.indexOf(chosen) < ranking.indexOf(rejected), p.toString());
        assertEquals(DATA.prompt(p.group(), p.question()), p.prompt());
        assertTrue(p.prompt().startsWith(DemoData.groupName(p.group()) + ":"), "the prompt names the group");
      }
    }
  }

  @Test
  void trainingComparesNeighboursAndTestComparesTheRest() {
    for (DemoData.Pair p : DATA.train()) {
      assertEquals(1, distance(p), "training pairs compare neighbours in the ranking: " + p);
    }
    for (DemoData.Pair p : DATA.test()) {
      assertTrue(distance(p) >= 2, "test pairs are implied by transitivity only: " + p);
    }
    assertFalse(DATA.test().isEmpty());
  }

  @Test
  void validationHoldsEveryNeighbourComparisonOncePerGroup() {
    int groups = DemoData.GROUP_SHARES.size();
    int neighbours = DemoData.ANSWERS.size() - 1;
    assertEquals(groups * DATA.questions().size() * neighbours, DATA.validation().size());
    assertEquals(DATA.validation().size(), new java.util.HashSet<>(DATA.validation()).size(), "no pair twice");
    for (DemoData.Pair p : DATA.validation()) {
      assertEquals(1, distance(p), "validation compares neighbours, as training does: " + p);
    }
    assertTrue(DATA.train().stream().allMatch(DATA.validation()::contains), "the training distribution");
  }

  @Test
  void theSplitsAreWrittenAsTrainData(@TempDir Path dir)
      throws IOException {
    List<Path> files = DATA.writeJsonl(dir);
    assertEquals(List.of("train.jsonl", "validation.jsonl", "test.jsonl"),
        files.stream().map(f -> f.getFileName().toString()).toList());
    List<PreferenceRecord> train = PreferenceData.readJsonl(files.getFirst(), false)
        .records();
    assertEquals(DATA.train().size(), train.size());
    DemoData.Pair first = DATA.train().getFirst();
    assertEquals(PreferenceRecord.ofText(first.prompt(), first.chosen(), first.rejected(),
        DemoData.groupName(first.group()), 1), train.getFirst());
  }

  @Test
  void rejectsSizesWithoutRoomForTheSmallestGroup() {
    assertThrows(IllegalArgumentException.class, () -> new DemoData.Size(4, 2, 10));
    assertThrows(IllegalArgumentException.class, () -> new DemoData.Size(4, 5, 1000));
  }

  private static int distance(DemoData.Pair p) {
    List<Integer> ranking = DATA.ranking(p.group(), p.question());
    return Math.abs(ranking.indexOf(DemoData.ANSWERS.indexOf(p.chosen()))
        - ranking.indexOf(DemoData.ANSWERS.indexOf(p.rejected())));
  }
}
