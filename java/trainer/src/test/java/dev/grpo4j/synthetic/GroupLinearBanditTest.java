package dev.grpo4j.synthetic;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Feature vectors and true rewards against values worked out by hand. */
class GroupLinearBanditTest {
  private static final double EPS = 1e-12;
  private static final double R = Math.sqrt(0.5);   // cos(pi/4) = sin(pi/4)

  // State s = (0.25, 0.5): cos(pi s) = (R, 0), sin(pi s) = (R, 1).

  @Test
  void groupZeroFeaturesAreUCosAndSinOverU() {
    GroupLinearBandit env = new GroupLinearBandit(FeatureType.SWAPPED);
    // a = 0: u = 1
    assertArrayEquals(new double[] {R, R, 0, 1}, env.feature(0.25, 0.5, 0, 0), EPS);
    // a = 4: u = 1.5
    assertArrayEquals(new double[] {1.5 * R, R / 1.5, 0, 1 / 1.5}, env.feature(0.25, 0.5, 4, 0), EPS);
    // a = 7: u = 1.875
    assertArrayEquals(new double[] {1.875 * R, R / 1.875, 0, 1 / 1.875}, env.feature(0.25, 0.5, 7, 0), EPS);
  }

  @Test
  void swappedFeaturesExchangeTheEntriesOfEachPairForGroupOne() {
    GroupLinearBandit env = new GroupLinearBandit(FeatureType.SWAPPED);
    assertArrayEquals(new double[] {R / 1.5, 1.5 * R, 1 / 1.5, 0}, env.feature(0.25, 0.5, 4, 1), EPS);
  }

  @Test
  void sameAndFlippedFeatures() {
    assertArrayEquals(new double[] {1.5 * R, R / 1.5, 0, 1 / 1.5},
        new GroupLinearBandit(FeatureType.SAME).feature(0.25, 0.5, 4, 1), EPS);
    // flipped: [u sin, cos / u]
    assertArrayEquals(new double[] {1.5 * R, R / 1.5, 1.5, 0},
        new GroupLinearBandit(FeatureType.FLIPPED).feature(0.25, 0.5, 4, 1), EPS);
    // group 0 is the same for every type
    assertArrayEquals(new double[] {1.5 * R, R / 1.5, 0, 1 / 1.5},
        new GroupLinearBandit(FeatureType.FLIPPED).feature(0.25, 0.5, 4, 0), EPS);
  }

  @Test
  void trueRewardsUseEachGroupsParameter() {
    GroupLinearBandit env = new GroupLinearBandit(FeatureType.SWAPPED);
    // group 0, theta* = [1,3,1,3], a = 4: 1.5R + 3R/1.5 + 0 + 3/1.5 = 1.5R + 2R + 2 = 3.5R + 2
    assertEquals(3.5 * R + 2, env.trueReward(0.25, 0.5, 4, 0), EPS);
    // group 1, theta* = [3,1,3,1], swapped features [R/1.5, 1.5R, 1/1.5, 0]: 2R + 1.5R + 2 + 0
    assertEquals(3.5 * R + 2, env.trueReward(0.25, 0.5, 4, 1), EPS);
    // group 0, a = 0: R + 3R + 0 + 3 = 4R + 3
    assertEquals(4 * R + 3, env.trueReward(0.25, 0.5, 0, 0), EPS);
    // With swapped features group 1's reward on its features equals group 0's on group 0's: the groups agree on
    // every state, and disagree only through a shared policy parameter.
    for (int a = 0; a < GroupLinearBandit.ACTIONS; a++) {
      assertEquals(env.trueReward(0.3, 0.7, a, 0), env.trueReward(0.3, 0.7, a, 1), EPS);
    }
    assertArrayEquals(new double[] {1, 3, 1, 3}, GroupLinearBandit.trueParameter(0));
    assertArrayEquals(new double[] {3, 1, 3, 1}, GroupLinearBandit.trueParameter(1));
  }

  @Test
  void optimalActionMaximisesTheTrueReward() {
    GroupLinearBandit env = new GroupLinearBandit(FeatureType.SWAPPED);
    // s = (0.25, 0.5), group 0: r(a) = (u + 3/u) R + 3/u, decreasing in u on [1, 1.875], so a = 0 is best.
    assertEquals(0, env.optimalAction(0.25, 0.5, 0));
    // s = (0.1, 0.1): cos(0.1 pi) = 0.951, sin(0.1 pi) = 0.309: r(a) = 2 (0.951 u + 0.927 / u), largest at u = 1.875
    assertEquals(7, env.optimalAction(0.1, 0.1, 0));
  }

  @Test
  void rejectsActionsAndGroupsOutOfRange() {
    GroupLinearBandit env = new GroupLinearBandit(FeatureType.SWAPPED);
    assertThrows(IllegalArgumentException.class, () -> env.feature(0.5, 0.5, 8, 0));
    assertThrows(IllegalArgumentException.class, () -> env.feature(0.5, 0.5, 0, 2));
  }
}
