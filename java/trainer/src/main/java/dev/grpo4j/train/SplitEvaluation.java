package dev.grpo4j.train;

import dev.grpo4j.report.EvalMetrics;
import dev.grpo4j.torch.PreferenceTrainer;
import java.util.List;

/** Turns the per-pair results of a whole split into the per-group {@link EvalMetrics} of {@code eval.jsonl}. */
public final class SplitEvaluation {
  private SplitEvaluation() {}

  /**
   * Per-group mean loss, reward accuracy ({@code h > 0}), log-prob accuracy ({@code s_w > s_l}), mean implicit
   * reward margin and pair count, over every pair of the split (each pair counts once, whatever the batching).
   */
  public static EvalMetrics of(int step, EvalMetrics.Split split, List<String> groups,
                               PreferenceTrainer.PairResults r) {
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
      rewardCorrect[g] += r.margins()[i] > 0 ? 1 : 0;
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
}
