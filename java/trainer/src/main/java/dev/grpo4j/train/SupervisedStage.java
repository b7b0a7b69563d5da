package dev.grpo4j.train;

import dev.grpo4j.dist.DataParallel;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.torch.EncodedPairs;
import dev.grpo4j.torch.FusedLmHead;
import dev.grpo4j.torch.LibTorch;
import dev.grpo4j.torch.PreferenceTrainer;
import java.io.PrintWriter;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/** The optional supervised fine-tuning stage of a run, before the reference is taken. */
final class SupervisedStage {
  static {
    LibTorch.load();
  }

  private final TrainConfig config;
  private final DataParallel dp;
  private final boolean progressBar;
  private final PrintWriter err;

  /** @param err receives the progress bar (when {@code progressBar}) and the stage's last line */
  SupervisedStage(TrainConfig config, DataParallel dp, boolean progressBar, PrintWriter err) {
    this.config = config;
    this.dp = dp;
    this.progressBar = progressBar;
    this.err = err;
  }

  /**
   * The SFT stage, in steps of {@code --batch-size} x {@code --grad-accumulation} pairs like the preference steps, and
   * split among the ranks the same way: micro-batch m of a step is rank (m mod ranks)'s. Each step's loss is the
   * mean over all its micro-batches' response positions, so a data-parallel run equals one process with the same
   * global micro-batches bit for bit (two ranks), as a preference step does.
   */
  void run(TransformerLm policy, EncodedPairs train, FusedLmHead fused) {
    AdamW optimizer = TrainingRun.adamW(policy, config.sftLearningRate(), config.weightDecay());
    PairSampler sampler = new PairSampler(train.size(), config.seed() - 1);
    TensorVector parameters = policy.parameters();
    int ranks = dp.worldSize();
    int rankPairs = config.batchSize() / ranks;
    policy.train(true);
    try (ProgressBar bar = progressBar ? Progress.bar("sft", config.sftSteps(), " steps") : null) {
      double nllSum = 0;
      long positions = 0;
      for (int step = 1; step <= config.sftSteps(); step++) {
        int[][] microBatches = new int[config.gradientAccumulation() * ranks][];
        long stepPositions = 0;
        for (int m = 0; m < microBatches.length; m++) {
          microBatches[m] = sampler.next(rankPairs);
          stepPositions += train.chosenPositions(microBatches[m]);
        }
        optimizer.zero_grad();
        nllSum = 0;
        positions = stepPositions;
        long ownPositions = 0;
        for (int m = dp.rank(); m < microBatches.length && stepPositions > 0; m += ranks) {
          // Dropout draws from libtorch's generator: micro-batch m gets the same draws on any rank.
          torch.manual_seed(config.seed() * 1_000_003L - step - ((long) m << 32));
          long own = train.chosenPositions(microBatches[m]);
          double nll = PreferenceTrainer.supervisedAccumulate(policy, train, microBatches[m],
              (double) own / stepPositions, fused);
          nllSum += own == 0 ? 0 : nll * own;
          ownPositions += own;
        }
        dp.allReduceGradients(parameters);
        optimizer.step();
        if (bar != null) {
          bar.step();
          // This rank's micro-batches only: the step's mean needs a collective, taken once at the end.
          bar.setExtraMessage(String.format(Locale.ROOT, " nll %.4f", nllSum / Math.max(1, ownPositions)));
        }
      }
      double lastNll = 0;
      for (double[] rank : dp.allGather(new double[] {nllSum})) {
        lastNll += rank[0];
      }
      err.printf(Locale.ROOT, "sft: %d steps, last chosen-response NLL %.4f%n", config.sftSteps(),
          positions > 0 ? lastNll / positions : Double.NaN);
    }
  }
}
