package dev.grpo4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * {@link PlateauScaler}: patience counting, reset on improvement, the multiplicative reduction and its floor, NaN as
 * no improvement, the relative threshold, and that a restored state continues exactly as the original.
 */
class PlateauScalerTest {
  @Test
  void reducesOnlyAfterMoreThanPatienceBadEvaluations() {
    PlateauScaler p = new PlateauScaler(2, 0.5, 0, 0.01);
    assertFalse(p.observe(1.0));
    assertFalse(p.observe(1.0));
    assertFalse(p.observe(1.2));
    assertEquals(1.0, p.scale());
    assertTrue(p.observe(1.0), "the third evaluation without improvement exceeds patience 2");
    assertEquals(0.5, p.scale());
    assertEquals(new PlateauScaler.State(1.0, 0, 0.5, 1), p.state(), "a reduction restarts the count");
    assertFalse(p.observe(1.0));
    assertFalse(p.observe(1.0));
    assertTrue(p.observe(1.0));
    assertEquals(0.25, p.scale());
    assertEquals(2, p.state().reductions());
  }

  @Test
  void improvementResetsTheCount() {
    PlateauScaler p = new PlateauScaler(2, 0.5, 0, 0.01);
    p.observe(1.0);
    p.observe(1.1);
    p.observe(1.1);
    assertEquals(2, p.state().badEvaluations());
    assertFalse(p.observe(0.9));
    assertEquals(new PlateauScaler.State(0.9, 0, 1.0, 0), p.state());
    assertFalse(p.observe(0.95));
    assertFalse(p.observe(0.95));
    assertTrue(p.observe(0.95), "three bad evaluations counted from the improvement, not from the start");
  }

  @Test
  void zeroPatienceReducesOnTheFirstBadEvaluation() {
    PlateauScaler p = new PlateauScaler(0, 0.1, 0, 1e-6);
    assertFalse(p.observe(2.0));
    assertTrue(p.observe(2.0));
    assertEquals(0.1, p.scale(), 1e-17);
  }

  @Test
  void scaleNeverDropsBelowMinScale() {
    PlateauScaler p = new PlateauScaler(0, 0.5, 0, 0.3);
    p.observe(1.0);
    assertTrue(p.observe(1.0));
    assertEquals(0.5, p.scale());
    assertTrue(p.observe(1.0), "the reduction that would go below the floor stops at it");
    assertEquals(0.3, p.scale());
    for (int i = 0; i < 5; i++) {
      assertFalse(p.observe(1.0), "nothing left to reduce at the floor");
    }
    assertEquals(0.3, p.scale());
    assertEquals(2, p.state().reductions());
  }

  @Test
  void nanCountsAsNoImprovement() {
    PlateauScaler p = new PlateauScaler(1, 0.5, 0, 0.01);
    assertFalse(p.observe(Double.NaN));
    assertEquals(Double.POSITIVE_INFINITY, p.state().best(), "NaN never becomes the best value");
    assertEquals(1, p.state().badEvaluations());
    assertFalse(p.observe(3.0), "the first real value is an improvement over nothing");
    assertEquals(new PlateauScaler.State(3.0, 0, 1.0, 0), p.state());
    assertFalse(p.observe(Double.NaN));
    assertTrue(p.observe(Double.NaN));
    assertEquals(3.0, p.state().best());
    assertEquals(0.5, p.scale());
  }

  @Test
  void thresholdIsRelativeToTheBest() {
    PlateauScaler p = new PlateauScaler(10, 0.5, 0.1, 0.01);
    p.observe(1.0);
    p.observe(0.95);
    assertEquals(1.0, p.state().best(), "5% is below the 10% threshold");
    assertEquals(1, p.state().badEvaluations());
    p.observe(0.89);
    assertEquals(0.89, p.state().best());
    assertEquals(0, p.state().badEvaluations());

    PlateauScaler large = new PlateauScaler(10, 0.5, 0.1, 0.01);
    large.observe(10.0);
    large.observe(9.5);
    assertEquals(10.0, large.state().best(), "0.5 less is 5% of 10, not an improvement, though it would be of 1");
    large.observe(8.9);
    assertEquals(8.9, large.state().best());
  }

  @Test
  void restoredStateContinuesIdentically() {
    double[] values = {1.0, 0.9, 0.95, 0.92, Double.NaN, 0.91, 0.85, 0.86, 0.87, 0.9, 0.9, 0.9, 0.84, 0.9, 0.9, 0.9};
    PlateauScaler original = new PlateauScaler(1, 0.7, 1e-4, 0.2);
    int cut = 6;
    for (int i = 0; i < cut; i++) {
      original.observe(values[i]);
    }
    PlateauScaler.State saved = original.state();
    PlateauScaler resumed = new PlateauScaler(1, 0.7, 1e-4, 0.2);
    resumed.restore(saved);
    assertEquals(saved, resumed.state());
    for (int i = cut; i < values.length; i++) {
      assertEquals(original.observe(values[i]), resumed.observe(values[i]), "evaluation " + i);
      assertEquals(original.state(), resumed.state(), "evaluation " + i);
      assertEquals(original.scale(), resumed.scale(), 0);
    }
    assertTrue(original.state().reductions() > saved.reductions(), "the continuation reaches a reduction");
  }

  @Test
  void invalidSettingsNameTheSetting() {
    assertMessage("plateau patience = -1", () -> new PlateauScaler(-1, 0.5, 0, 0.1));
    assertMessage("plateau factor = 1.0", () -> new PlateauScaler(1, 1.0, 0, 0.1));
    assertMessage("plateau factor = 0.0", () -> new PlateauScaler(1, 0, 0, 0.1));
    assertMessage("plateau threshold = -0.1", () -> new PlateauScaler(1, 0.5, -0.1, 0.1));
    assertMessage("plateau threshold = NaN", () -> new PlateauScaler(1, 0.5, Double.NaN, 0.1));
    assertMessage("plateau minimum scale = 0.0", () -> new PlateauScaler(1, 0.5, 0, 0));
    assertMessage("plateau minimum scale = 1.5", () -> new PlateauScaler(1, 0.5, 0, 1.5));
  }

  private static void assertMessage(String expected, Runnable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
    assertTrue(e.getMessage().contains(expected), "message \"" + e.getMessage() + "\" lacks \"" + expected + "\"");
  }
}
