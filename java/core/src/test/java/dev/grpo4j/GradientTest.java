package dev.grpo4j;

import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The native gradient against central finite differences of the objective, in double, on tiny shapes. */
class GradientTest {
  static Stream<ReferenceLoss.Config> configs() {
    return GroupRobustLossTest.configs().stream();
  }

  @ParameterizedTest
  @MethodSource("configs")
  void gradientMatchesFiniteDifferences(ReferenceLoss.Config base) {
    long seed = System.nanoTime();
    Random rng = new Random(seed);
    int pairs = 3;
    int seqLen = 2;
    int vocab = 5;
    int groups = 2;
    ReferenceLoss.Config c = GroupRobustLossTest.withGroups(base, groups, GroupRobustLossTest.randomSizes(rng, groups));
    try (HostBatch batch = HostBatch.random(rng, pairs, seqLen, vocab, groups, LogitsType.F32, LabelType.I32, 1.0,
        0.25, -1, -1);
         GroupRobustLoss loss = GroupRobustLossTest.build(c, Backend.CPU, 1)) {
      double[] logAlpha = loss.state().logAlpha();
      LossResult result = loss.forwardBackward(batch.batch(), batch.grad);
      double[] grad = batch.read(batch.grad);
      // The weights are constants of the gradient (the update uses detached losses): hold them fixed.
      double[] weights = c.weighting() == Weighting.AVERAGE ? null : toDouble(result.groupWeights());
      double[] logits = batch.input.logits();
      double[] fd = new double[logits.length];
      double step = 1e-5;
      for (int e = 0; e < logits.length; e++) {
        double saved = logits[e];
        logits[e] = saved + step;
        double plus = ReferenceLoss.compute(c, batch.input, logAlpha, true, weights).loss();
        logits[e] = saved - step;
        double minus = ReferenceLoss.compute(c, batch.input, logAlpha, true, weights).loss();
        logits[e] = saved;
        fd[e] = (plus - minus) / (2 * step);
      }
      Close.assertClose(c + " seed " + seed + " grad vs finite differences", grad, fd,
          1e-6 + 2e-5 * Close.maxAbs(fd), 1e-4);
    }
  }

  private static double[] toDouble(float[] values) {
    double[] out = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = values[i];
    }
    return out;
  }
}
