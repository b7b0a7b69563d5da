package dev.grpo4j.synthetic;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The data of a seed: the draw sequence against numpy (values printed by {@code numpy_reference.py} in the test
 * resources, an independent re-creation of the paper's draw order), the group splits, the pair structure of even and
 * uneven collection, and preference labels that follow the true rewards.
 */
class SyntheticDataTest {
  private static final GroupLinearBandit ENV = new GroupLinearBandit(FeatureType.SWAPPED);

  private static SyntheticData data(long seed, SyntheticSetting setting) {
    return SyntheticData.generate(seed, new SyntheticData.Spec(setting.uneven(), setting.group0Share(), 300, 1000),
        ENV);
  }

  @Test
  void wholeDrawSequenceMatchesNumpy() {
    // theta0 is the last draw, after 2 + training + test + validation + 4 normals + 2 draws: equal values mean the
    // whole sequence was consumed exactly as numpy consumes it.
    SyntheticData unevenImbalanced = data(2021, SyntheticSetting.UNEVEN_IMBALANCED);
    assertArrayEquals(new double[] {4.600165533543166, 1.6497344832366467, 4.774034692420751, 4.475895167206167},
        unevenImbalanced.theta0());
    PreferenceSet train = unevenImbalanced.train();
    // [s0, s1, group, first action, second action, pref] = [0.3797201379315086, 0.6140030082037214, 0, 1, 0, 1]
    assertEquals(0.3797201379315086, train.s0()[0]);
    assertEquals(0.6140030082037214, train.s1()[0]);
    assertEquals(0, train.group()[0]);
    assertEquals(0, train.chosen()[0]);   // pref = 1: the second action (0) won
    assertEquals(1, train.rejected()[0]);
    // [0.37877713685019077, 0.3227556681252617, 0, 1, 2, 0]: the first action (1) won
    assertEquals(0.37877713685019077, train.s0()[1]);
    assertEquals(1, train.chosen()[1]);
    assertEquals(2, train.rejected()[1]);

    SyntheticData evenImbalanced = data(2040, SyntheticSetting.EVEN_IMBALANCED);
    assertArrayEquals(new double[] {4.002758528752101, 0.9142944061359132, 2.1601325546841816, 1.6138220823838278},
        evenImbalanced.theta0());
    // [0.19778000039609445, 0.16748635198675998, 1, 2, 4, 0]
    assertEquals(0.19778000039609445, evenImbalanced.train().s0()[0]);
    assertEquals(1, evenImbalanced.train().group()[0]);
    assertEquals(2, evenImbalanced.train().chosen()[0]);
    assertEquals(4, evenImbalanced.train().rejected()[0]);

    SyntheticData unevenBalanced = data(2040, SyntheticSetting.UNEVEN_BALANCED);
    assertArrayEquals(new double[] {4.998239942585762, 0.2109350637856472, 1.0148113548908229, 1.8502294781070243},
        unevenBalanced.theta0());
    // [0.4679788125546004, 0.3378602584455468, 1, 6, 2, 1]
    assertEquals(0.4679788125546004, unevenBalanced.train().s0()[1]);
    assertEquals(1, unevenBalanced.train().group()[1]);
    assertEquals(2, unevenBalanced.train().chosen()[1]);
    assertEquals(6, unevenBalanced.train().rejected()[1]);
  }

  @Test
  void groupSplitsAndSizes() {
    SyntheticData imbalanced = data(2023, SyntheticSetting.UNEVEN_IMBALANCED);
    assertArrayEquals(new long[] {60, 240}, imbalanced.train().groupCounts(2));
    assertArrayEquals(new long[] {500, 500}, imbalanced.validation().groupCounts(2));
    assertArrayEquals(new long[] {500, 500}, imbalanced.test().groupCounts(2));
    assertArrayEquals(new long[] {150, 150}, data(2023, SyntheticSetting.UNEVEN_BALANCED).train().groupCounts(2));
    assertArrayEquals(new long[] {60, 240}, data(2023, SyntheticSetting.EVEN_IMBALANCED).train().groupCounts(2));
    // Shuffled: the minority group is not a block at the front.
    int[] groups = imbalanced.train().group();
    int zerosInFirst60 = 0;
    for (int i = 0; i < 60; i++) {
      zerosInFirst60 += groups[i] == 0 ? 1 : 0;
    }
    assertTrue(zerosInFirst60 < 40, "group ids are shuffled");
  }

  @Test
  void unevenCollectionComparesNeighboursForGroupZeroAndOppositesForGroupOne() {
    for (SyntheticSetting setting : new SyntheticSetting[] {SyntheticSetting.UNEVEN_IMBALANCED,
        SyntheticSetting.UNEVEN_BALANCED}) {
      SyntheticData d = data(2024, setting);
      for (PreferenceSet set : new PreferenceSet[] {d.train(), d.validation()}) {
        for (int i = 0; i < set.size(); i++) {
          int gap = Math.abs(set.chosen()[i] - set.rejected()[i]);
          assertEquals(set.group()[i] == 0 ? 1 : 4, gap, "pair " + i + " of group " + set.group()[i]);
        }
      }
      assertEvenPairs(d.test());
    }
  }

  @Test
  void evenCollectionDrawsTwoDistinctActionsForBothGroups() {
    SyntheticData d = data(2024, SyntheticSetting.EVEN_IMBALANCED);
    assertEvenPairs(d.train());
    assertEvenPairs(d.validation());
    // Both groups see neighbouring and distant pairs.
    boolean[][] seen = new boolean[2][8];
    for (int i = 0; i < d.train().size(); i++) {
      seen[d.train().group()[i]][Math.abs(d.train().chosen()[i] - d.train().rejected()[i])] = true;
    }
    for (int g = 0; g < 2; g++) {
      assertTrue(seen[g][1] && seen[g][4] && seen[g][7], "group " + g + " gaps");
    }
  }

  @Test
  void preferenceLabelsFollowTheTrueRewards() {
    for (SyntheticSetting setting : SyntheticSetting.values()) {
      SyntheticData d = data(2030, setting);
      for (PreferenceSet set : new PreferenceSet[] {d.train(), d.validation(), d.test()}) {
        for (int i = 0; i < set.size(); i++) {
          double chosen = ENV.trueReward(set.s0()[i], set.s1()[i], set.chosen()[i], set.group()[i]);
          double rejected = ENV.trueReward(set.s0()[i], set.s1()[i], set.rejected()[i], set.group()[i]);
          assertTrue(chosen > rejected, setting + " pair " + i + ": chosen " + chosen + " <= rejected " + rejected);
        }
      }
    }
  }

  @Test
  void theSameSeedGivesTheSameDataAndAnotherSeedOtherData() {
    SyntheticData a = data(2031, SyntheticSetting.UNEVEN_IMBALANCED);
    SyntheticData b = data(2031, SyntheticSetting.UNEVEN_IMBALANCED);
    assertArrayEquals(a.train().s0(), b.train().s0());
    assertArrayEquals(a.theta0(), b.theta0());
    assertNotEquals(a.theta0()[0], data(2032, SyntheticSetting.UNEVEN_IMBALANCED).theta0()[0]);
    for (double v : a.theta0()) {
      assertTrue(v >= 0 && v < SyntheticData.PARAM_LIMIT);
    }
  }

  @Test
  void specRejectsSplitsThatDoNotCoverThePairs() {
    assertThrows(IllegalArgumentException.class, () -> new SyntheticData.Spec(true, 0, 300, 1000));
    assertThrows(IllegalArgumentException.class, () -> new SyntheticData.Spec(true, 0.001, 300, 1000));
    // numpy rounds 150.5 to 150: 150 + 150 < 301
    assertThrows(IllegalArgumentException.class, () -> new SyntheticData.Spec(true, 0.5, 301, 1000));
    assertThrows(IllegalArgumentException.class, () -> new SyntheticData.Spec(true, 0.2, 300, 1001));
    assertArrayEquals(new long[] {60, 240}, SyntheticData.groupCounts(0.2, 300));
  }

  private static void assertEvenPairs(PreferenceSet set) {
    for (int i = 0; i < set.size(); i++) {
      assertNotEquals(set.chosen()[i], set.rejected()[i]);
      assertTrue(set.chosen()[i] >= 0 && set.chosen()[i] < 8 && set.rejected()[i] >= 0 && set.rejected()[i] < 8);
    }
  }
}
