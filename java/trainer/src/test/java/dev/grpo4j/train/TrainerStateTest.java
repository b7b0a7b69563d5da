package dev.grpo4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.GroupWeightState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TrainerState}: the JSON file gives back every value bit for bit, non-finite plateau values and a missing
 * plateau included, since a resumed run is only identical to an uninterrupted one if nothing is rounded.
 */
class TrainerStateTest {
  @Test
  void roundTripIsBitExact(@TempDir Path dir) throws IOException {
    double[] logAlpha = {0.1 + 0.2, -1.0986122886681098, Math.log(1.0 / 3), Double.MIN_VALUE, -1e300, -0.0};
    TrainerState state = new TrainerState(1234, 9_876_543_210L, List.of("g0", "group \"one\"", "ü"), logAlpha,
        4321L, new PlateauScaler.State(0.6931471805599453, 2, 0.1 * 0.1 * 0.7, 3), 123_456_789_012L,
        3600.0 / 7);
    state.write(dir);
    assertTrue(Files.isRegularFile(dir.resolve(TrainerState.FILE)));
    assertSameState(state, TrainerState.read(dir));
  }

  @Test
  void infiniteBestSurvives(@TempDir Path dir) throws IOException {
    // A plateau that has not seen a finite value yet keeps +Infinity as its best.
    TrainerState state = new TrainerState(3, 12, List.of("a", "b"), new double[] {0.5, -0.5}, 3,
        new PlateauScaler.State(Double.POSITIVE_INFINITY, 1, 1.0, 0), 99, 1.5);
    state.write(dir);
    TrainerState read = TrainerState.read(dir);
    assertEquals(Double.POSITIVE_INFINITY, read.plateau().best());
    assertSameState(state, read);
  }

  @Test
  void missingPlateauStaysMissing(@TempDir Path dir) throws IOException {
    TrainerState state = new TrainerState(0, 0, List.of("only"), new double[] {0}, 0, null, 0, 0);
    state.write(dir);
    TrainerState read = TrainerState.read(dir);
    assertNull(read.plateau());
    assertSameState(state, read);
  }

  @Test
  void rewritingReplacesTheFile(@TempDir Path dir) throws IOException {
    new TrainerState(1, 2, List.of("a"), new double[] {1}, 1, null, 5, 1).write(dir);
    TrainerState later = new TrainerState(2, 4, List.of("a"), new double[] {2}, 2, null, 10, 2);
    later.write(dir);
    assertSameState(later, TrainerState.read(dir));
  }

  @Test
  void constructorCopiesItsArguments() {
    double[] logAlpha = {Math.log(0.25), Math.log(0.75)};
    List<String> groups = new ArrayList<>(List.of("a", "b"));
    TrainerState state = new TrainerState(1, 1, groups, logAlpha, 1, null, 0, 0);
    logAlpha[0] = 99;
    groups.set(0, "changed");
    assertArrayEquals(new double[] {Math.log(0.25), Math.log(0.75)}, state.groupLogAlpha());
    assertEquals(List.of("a", "b"), state.groups());
    GroupWeightState weights = state.groupWeightState();
    assertArrayEquals(new double[] {Math.log(0.25), Math.log(0.75)}, weights.logAlpha());
    assertEquals(1, weights.steps());
  }

  @Test
  void unreadableFileNamesTheFile(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve(TrainerState.FILE), "{\"step\": \"many\"}");
    IOException e = assertThrows(IOException.class, () -> TrainerState.read(dir));
    assertTrue(e.getMessage().contains(TrainerState.FILE), e.getMessage());
    assertThrows(IOException.class, () -> TrainerState.read(dir.resolve("missing")));
  }

  /** Field by field: the record's own equals compares {@code groupLogAlpha} by identity. */
  static void assertSameState(TrainerState expected, TrainerState actual) {
    assertEquals(expected.step(), actual.step());
    assertEquals(expected.consumedPairs(), actual.consumedPairs());
    assertEquals(expected.groups(), actual.groups());
    assertBits("groupLogAlpha", expected.groupLogAlpha(), actual.groupLogAlpha());
    assertEquals(expected.groupWeightSteps(), actual.groupWeightSteps());
    if (expected.plateau() == null) {
      assertNull(actual.plateau());
    } else {
      PlateauScaler.State e = expected.plateau();
      PlateauScaler.State a = actual.plateau();
      assertBits("plateau best", new double[] {e.best()}, new double[] {a.best()});
      assertBits("plateau scale", new double[] {e.scale()}, new double[] {a.scale()});
      assertEquals(e.badEvaluations(), a.badEvaluations());
      assertEquals(e.reductions(), a.reductions());
      assertEquals(e, a);
    }
    assertEquals(expected.tokens(), actual.tokens());
    assertBits("seconds", new double[] {expected.seconds()}, new double[] {actual.seconds()});
  }

  private static void assertBits(String name, double[] expected, double[] actual) {
    assertEquals(expected.length, actual.length, name + " length");
    for (int i = 0; i < expected.length; i++) {
      assertEquals(Double.doubleToRawLongBits(expected[i]), Double.doubleToRawLongBits(actual[i]),
          name + "[" + i + "]: wrote " + expected[i] + ", read " + actual[i]);
    }
  }
}
