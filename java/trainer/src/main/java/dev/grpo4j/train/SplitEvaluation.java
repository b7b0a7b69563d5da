package dev.grpo4j.train;

import dev.grpo4j.report.EvalMetrics;
import dev.grpo4j.torch.PreferenceObjective;
import java.util.List;

/** Turns the per-pair results of a whole split into the per-group {@link EvalMetrics} of {@code eval.jsonl}. */
public final class SplitEvaluation {
  /**
   * Relative size, against the sequence log-probs, below which a margin is a tie: the policy and the reference
   * summed the same log-probs in different orders (in float32), so before training margins are not exactly 0.
   */
  static final double TIE_TOLERANCE = 1e-5;

  private SplitEvaluation() {}

  /**
   * Per-group mean loss, reward accuracy ({@code h > 0}; a tie, {@code |h|} within float32 rounding of the
   * log-probs, counts one half), log-prob accuracy ({@code s_w > s_l}), mean implicit reward margin and pair count,
   * over every pair of the split (each pair counts once, whatever the batching).
   */
  public static EvalMetrics of(int step, EvalMetrics.Split split, List<String> groups,
                               PreferenceObjective.PairResults r) {
    int k = groups.size();
    int[] count = new int[k];
    double[] loss = new double[k];
    double[] rewardCorrect = new double[k];
    double[] logpCorrect = new double[k];
    double[] margin = new double[k];
    for (int i = 0; i < r.groups().length; i++) {
      int g = r.groups()[i];
      count[g]++;
      loss[g] += r.pairLosses()[i];
      rewardCorrect[g] += rewardCorrect(r.margins()[i], r.chosenLogps()[i], r.rejectedLogps()[i]);
      logpCorrect[g] += r.chosenLogps()[i] > r.rejectedLogps()[i] ? 1 : 0;
      margin[g] += (double) r.chosenRewards()[i] - r.rejectedRewards()[i];
    }
    for (int g = 0; g < k; g++) {
      loss[g] /= count[g];
      rewardCorrect[g] /= count[g];
      logpCorrect[g] /= count[g];
      margin[g] /= count[g];
    }
    return new EvalMetrics(step, split, groups, loss, rewardCorrect, logpCorrect, margin, count);
  }

  /** 1 for a positive margin, 0 for a negative one, one half for a tie. */
  static double rewardCorrect(float margin, float chosenLogp, float rejectedLogp) {
    double tolerance = TIE_TOLERANCE * (Math.abs(chosenLogp) + Math.abs(rejectedLogp));
    return Math.abs(margin) <= tolerance ? 0.5 : margin > 0 ? 1 : 0;
  }
}
