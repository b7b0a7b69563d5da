package dev.grpo4j;

import dev.grpo4j.testing.Close;
import dev.grpo4j.testing.TestSeed;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CPU gradient against central finite differences of the objective, on tiny shapes. The objective at the
 * perturbed logits comes from the REFERENCE backend's evaluation (double precision inside, J reported in float32)
 * with the group weights the training call ended with: the weights are constants of the gradient (the update uses
 * detached losses), and evaluation never moves them.
 */
class GradientTest {
  /** A power of two, so that logits of magnitude below 2 step exactly in float32. */
  private static final double STEP = 0x1p-8;

  static Stream<GroupRobustLossTest.Config> configs() {
    return GroupRobustLossTest.configs().stream();
  }

  @ParameterizedTest
  @MethodSource("configs")
  void gradientMatchesFiniteDifferences(GroupRobustLossTest.Config base) {
    long seed = TestSeed.get();
    Random rng = new Random(seed);
    int groups = 2;
    GroupRobustLossTest.Config c = GroupRobustLossTest.withGroups(base, groups,
        GroupRobustLossTest.randomSizes(rng, groups));
    try (HostBatch batch = HostBatch.random(rng, 3, 2, 5, groups, LogitsType.F32, LabelType.I32, 1.0, 0.25, -1, -1);
         GroupRobustLoss cpu = GroupRobustLossTest.build(c, Backend.CPU, 1);
         GroupRobustLoss reference = GroupRobustLossTest.build(c, Backend.REFERENCE, 1)) {
      cpu.forwardBackward(batch.batch(), batch.grad);
      double[] grad = batch.read(batch.grad);
      reference.restoreState(cpu.state());
      MemorySegment logits = batch.logits;
      double[] fd = new double[grad.length];
      double worstRounding = 0;
      for (int e = 0; e < fd.length; e++) {
        float saved = logits.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, e);
        float plus = (float) (saved + STEP);
        float minus = (float) (saved - STEP);
        double jPlus = objectiveAt(reference, batch, e, plus);
        double jMinus = objectiveAt(reference, batch, e, minus);
        logits.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, e, saved);
        fd[e] = (jPlus - jMinus) / ((double) plus - minus);
        worstRounding = Math.max(worstRounding, 2 * Math.ulp((float) Math.max(Math.abs(jPlus), Math.abs(jMinus)))
            / ((double) plus - minus));
      }
      // J is reported in float32: a difference quotient carries up to two ulps of J over the step.
      Close.assertClose(c + " " + TestSeed.describe(seed) + " grad vs finite differences", grad, fd,
          2 * worstRounding + 1e-3 * Close.maxAbs(fd), 5e-3);
    }
  }

  private static double objectiveAt(GroupRobustLoss reference, HostBatch batch, int element, float value) {
    batch.logits.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, element, value);
    return reference.evaluate(batch.batch()).loss();
  }
}
