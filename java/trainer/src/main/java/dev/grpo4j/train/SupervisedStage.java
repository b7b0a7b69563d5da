package dev.grpo4j.train;

import dev.grpo4j.dist.DataParallel;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.platform.LibTorch;
import dev.grpo4j.torch.EncodedPairs;
import dev.grpo4j.torch.FusedLmHead;
import dev.grpo4j.torch.SupervisedObjective;
import java.io.PrintWriter;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import org.bytedeco.pytorch.AdamW;

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
    AdamW optimizer = Loop.adamW(policy, config.sft().learningRate(), config.optimizer());
    PairSampler sampler = new PairSampler(train.size(), config.loop().seed() - 1);
    // No clipping: the stage has never clipped, and --max-grad-norm is documented for preference steps.
    Loop loop = new Loop(dp, policy, optimizer, config.loop(), sampler, Loop.UNCLIPPED, "--sft-lr");
    NllStep work = new NllStep(policy, train, fused);
    try (ProgressBar bar = progressBar ? Progress.bar("sft", config.sft().steps(), " steps") : null) {
      for (int step = 1; step <= config.sft().steps(); step++) {
        loop.step(step, config.sft().learningRate(), work);
        if (bar != null) {
          bar.step();
          // This rank's micro-batches only: the step's mean needs a collective, taken once at the end.
          bar.setExtraMessage(String.format(Locale.ROOT, " nll %.4f", work.nllSum / Math.max(1, work.ownPositions)));
        }
      }
      double lastNll = 0;
      for (double[] rank : dp.allGather(new double[] {work.nllSum})) {
        lastNll += rank[0];
      }
      err.printf(Locale.ROOT, "sft: %d steps, last chosen-response NLL %.4f%n", config.sft().steps(),
          work.stepPositions > 0 ? lastNll / work.stepPositions : Double.NaN);
    }
  }

  /** A step's mean next-token NLL over all its micro-batches' chosen-response positions. */
  private final class NllStep implements Loop.Step {
    private final TransformerLm policy;
    private final EncodedPairs train;
    private final SupervisedObjective objective;
    private long stepPositions;
    private double nllSum;
    private long ownPositions;

    NllStep(TransformerLm policy, EncodedPairs train, FusedLmHead fused) {
      this.policy = policy;
      this.train = train;
      this.objective = SupervisedObjective.of(fused);
    }

    @Override
    public void begin(int step, int[][] microBatches) {
      stepPositions = 0;
      for (int[] microBatch : microBatches) {
        stepPositions += train.chosenPositions(microBatch);
      }
      nllSum = 0;
      ownPositions = 0;
    }

    @Override
    public long dropoutSeed(int step, int m) {
      return config.loop().seed() * 1_000_003L - step - ((long) m << 32);
    }

    @Override
    public void round(int step, int first, int[][] round) {
      if (stepPositions == 0) {
        return;
      }
      int[] pairs = round[dp.rank()];
      long own = train.chosenPositions(pairs);
      double nll = objective.accumulate(policy, train, pairs, (double) own / stepPositions);
      nllSum += own == 0 ? 0 : nll * own;
      ownPositions += own;
    }
  }
}
