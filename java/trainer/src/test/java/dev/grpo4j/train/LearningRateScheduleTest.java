package dev.grpo4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.train.LearningRateSchedule.Decay;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link LearningRateSchedule}: the linear warm-up, the three decay shapes against values worked out by hand, the
 * edge cases warm-up = 0 and warm-up = total, and the argument checks.
 */
class LearningRateScheduleTest {
  private static final double BASE = 0.8;
  private static final double EPS = 1e-15;

  @ParameterizedTest
  @EnumSource(Decay.class)
  void warmUpRisesLinearlyFromBaseOverWarmupToBase(Decay decay) {
    LearningRateSchedule s = new LearningRateSchedule(BASE, 4, 10, decay);
    assertEquals(0.2, s.at(1), EPS);
    assertEquals(0.4, s.at(2), EPS);
    assertEquals(0.6, s.at(3), EPS);
    assertEquals(BASE, s.at(4), EPS);
  }

  @Test
  void constantStaysAtBaseAfterWarmUp() {
    LearningRateSchedule s = new LearningRateSchedule(BASE, 2, 6, Decay.CONSTANT);
    for (int step = 3; step <= 6; step++) {
      assertEquals(BASE, s.at(step), 0, "step " + step);
    }
  }

  @Test
  void linearDecaysTowardsZeroAtStepTotalPlusOne() {
    // Four decay steps: progress 0, 1/4, 2/4, 3/4.
    LearningRateSchedule s = new LearningRateSchedule(BASE, 2, 6, Decay.LINEAR);
    assertEquals(0.4, s.at(1), EPS);
    assertEquals(0.8, s.at(2), EPS);
    assertEquals(0.8, s.at(3), EPS);
    assertEquals(0.6, s.at(4), EPS);
    assertEquals(0.4, s.at(5), EPS);
    assertEquals(0.2, s.at(6), EPS);
  }

  @Test
  void cosineFollowsHalfACosineWave() {
    LearningRateSchedule s = new LearningRateSchedule(BASE, 2, 6, Decay.COSINE);
    double halfRootTwo = Math.sqrt(2) / 2;
    assertEquals(0.8, s.at(3), EPS);
    assertEquals(0.4 * (1 + halfRootTwo), s.at(4), EPS);
    assertEquals(0.4, s.at(5), EPS);
    assertEquals(0.4 * (1 - halfRootTwo), s.at(6), EPS);
  }

  @ParameterizedTest
  @EnumSource(value = Decay.class, names = {"LINEAR", "COSINE"})
  void decayStartsAtBaseNeverIncreasesAndStaysPositive(Decay decay) {
    LearningRateSchedule s = new LearningRateSchedule(3e-4, 10, 1000, decay);
    assertEquals(3e-4, s.at(11), 0, "the first step after the warm-up uses the peak");
    for (int step = 12; step <= 1000; step++) {
      assertTrue(s.at(step) <= s.at(step - 1), "step " + step + " rises above step " + (step - 1));
    }
    assertTrue(s.at(1000) > 0, "the last step still learns");
  }

  @ParameterizedTest
  @EnumSource(Decay.class)
  void warmupEqualToTotalIsAllWarmUp(Decay decay) {
    LearningRateSchedule s = new LearningRateSchedule(BASE, 4, 4, decay);
    assertEquals(0.2, s.at(1), EPS);
    assertEquals(BASE, s.at(4), EPS);
  }

  @ParameterizedTest
  @EnumSource(Decay.class)
  void noWarmupStartsAtBase(Decay decay) {
    LearningRateSchedule s = new LearningRateSchedule(BASE, 0, 5, decay);
    assertEquals(BASE, s.at(1), 0);
    assertTrue(s.at(5) > 0);
  }

  @Test
  void singleStepRunUsesBase() {
    assertEquals(BASE, new LearningRateSchedule(BASE, 0, 1, Decay.COSINE).at(1), 0);
    assertEquals(BASE, new LearningRateSchedule(BASE, 1, 1, Decay.LINEAR).at(1), 0);
  }

  @Test
  void invalidArgumentsNameTheProblem() {
    assertMessage("learning rate = 0.0", () -> new LearningRateSchedule(0, 0, 5, Decay.CONSTANT));
    assertMessage("learning rate = -0.1", () -> new LearningRateSchedule(-0.1, 0, 5, Decay.CONSTANT));
    assertMessage("learning rate = NaN", () -> new LearningRateSchedule(Double.NaN, 0, 5, Decay.CONSTANT));
    assertMessage("learning rate = Infinity",
        () -> new LearningRateSchedule(Double.POSITIVE_INFINITY, 0, 5, Decay.CONSTANT));
    assertMessage("total steps = 0", () -> new LearningRateSchedule(BASE, 0, 0, Decay.LINEAR));
    assertMessage("warm-up steps = -1", () -> new LearningRateSchedule(BASE, -1, 5, Decay.LINEAR));
    assertMessage("warm-up steps = 6", () -> new LearningRateSchedule(BASE, 6, 5, Decay.LINEAR));
  }

  @Test
  void stepOutsideTheRunThrows() {
    LearningRateSchedule s = new LearningRateSchedule(BASE, 2, 5, Decay.COSINE);
    assertMessage("step 0 is outside 1..5", () -> s.at(0));
    assertMessage("step 6 is outside 1..5", () -> s.at(6));
  }

  @Test
  void decayCliNamesAreLowerCase() {
    assertEquals("constant", Decay.CONSTANT.cliName());
    assertEquals("linear", Decay.LINEAR.cliName());
    assertEquals("cosine", Decay.COSINE.cliName());
  }

  private static void assertMessage(String expected, Runnable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
    assertTrue(e.getMessage().contains(expected), "message \"" + e.getMessage() + "\" lacks \"" + expected + "\"");
  }
}
