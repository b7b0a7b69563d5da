package dev.grpo4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class DeadRunWatchTest {
  @Test
  void fiveDeadStepsInARowAreToldOnce() {
    DeadRunWatch watch = new DeadRunWatch(1e6);
    double[] norms = {0.3, 0, 0, 0, 0, 0.1, 0, Double.NaN, 0, 0, 0, 0, 0};
    int toldAt = -1;
    int told = 0;
    for (int i = 0; i < norms.length; i++) {
      Optional<String> warning = watch.observe(i + 1, norms[i]);
      if (warning.isPresent()) {
        told++;
        toldAt = i + 1;
        assertTrue(warning.get().contains("for 5 steps in a row") && warning.get().contains("--lr 1000000.0"),
            warning.get());
      }
    }
    assertEquals(1, told, "said once");
    assertEquals(11, toldAt, "a non-zero step resets the count; a non-finite one counts as dead");
  }
}
