package dev.grpo4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.grpo4j.report.EvalMetrics;
import dev.grpo4j.torch.PreferenceObjective;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link SplitEvaluation}: per-group means of hand-made pair results, with a group that has no pairs (NaN, count 0);
 * a margin within float32 rounding of 0 counts one half for reward accuracy, an exact log-prob tie as wrong.
 */
class SplitEvaluationTest {
  @Test
  void perGroupMeansAndAnEmptyGroup() {
    // Pairs of groups 2, 0, 2, 0, 2 (interleaved, as a real split is); group 1 has none. Pair 1's h and reward
    // difference disagree in sign on purpose: accuracy follows h, the mean margin follows the rewards.
    PreferenceObjective.PairResults r = new PreferenceObjective.PairResults(
        new float[] {0.5f, 0.25f, 1.5f, 0.75f, 1.0f},
        new float[] {1.0f, -2.0f, 0.0f, 3.0f, -0.5f},
        new float[] {0.5f, 0.75f, 1.0f, 2.0f, -1.0f},
        new float[] {0.25f, 0.5f, 1.0f, -1.0f, 0.5f},
        new float[] {-3.0f, -5.0f, -2.0f, -4.0f, -6.0f},
        new float[] {-4.0f, -4.0f, -2.0f, -8.0f, -1.0f},
        new int[] {2, 0, 2, 0, 2});
    EvalMetrics m = SplitEvaluation.of(7, EvalMetrics.Split.VALIDATION, List.of("a", "b", "c"), r);

    assertEquals(7, m.step());
    assertEquals(EvalMetrics.Split.VALIDATION, m.split());
    assertEquals(List.of("a", "b", "c"), m.groups());
    assertArrayEquals(new int[] {2, 0, 3}, m.groupCount());
    // Group a: pairs 1 and 3. Group c: pairs 0, 2 and 4 (pair 2 ties on both h and log-prob: a half for reward
    // accuracy, wrong for log-prob accuracy).
    assertArrayEquals(new double[] {(0.25 + 0.75) / 2, Double.NaN, (0.5 + 1.5 + 1.0) / 3}, m.groupLoss());
    assertArrayEquals(new double[] {1.0 / 2, Double.NaN, 1.5 / 3}, m.groupRewardAccuracy());
    assertArrayEquals(new double[] {1.0 / 2, Double.NaN, 1.0 / 3}, m.groupLogprobAccuracy());
    assertArrayEquals(new double[] {(0.25 + 3.0) / 2, Double.NaN, (0.25 + 0.0 - 1.5) / 3}, m.groupMargin());
    assertEquals(1.0, m.worstGroupLoss(), "the empty group does not count towards the worst group");
  }

  @Test
  void marginsThatAreFloatNoiseAreTies() {
    // Before the first step the policy is the reference, but the two sums ran in different orders: margins of a few
    // ulps of the log-probs. They must not read as 0 % or 100 % accuracy.
    assertEquals(0.5, SplitEvaluation.rewardCorrect(3e-6f, -40f, -35f));
    assertEquals(0.5, SplitEvaluation.rewardCorrect(-3e-6f, -40f, -35f));
    assertEquals(0.5, SplitEvaluation.rewardCorrect(0f, 0f, 0f));
    assertEquals(1.0, SplitEvaluation.rewardCorrect(1e-2f, -40f, -35f));
    assertEquals(0.0, SplitEvaluation.rewardCorrect(-1e-2f, -40f, -35f));
  }

  @Test
  void eachPairCountsOnce() {
    PreferenceObjective.PairResults r = new PreferenceObjective.PairResults(
        new float[] {2.0f}, new float[] {0.5f}, new float[] {0.75f}, new float[] {0.25f}, new float[] {-1.0f},
        new float[] {-2.0f}, new int[] {0});
    EvalMetrics m = SplitEvaluation.of(0, EvalMetrics.Split.TEST, List.of("only"), r);
    assertArrayEquals(new double[] {2.0}, m.groupLoss());
    assertArrayEquals(new double[] {1.0}, m.groupRewardAccuracy());
    assertArrayEquals(new double[] {1.0}, m.groupLogprobAccuracy());
    assertArrayEquals(new double[] {0.5}, m.groupMargin());
    assertArrayEquals(new int[] {1}, m.groupCount());
  }
}
