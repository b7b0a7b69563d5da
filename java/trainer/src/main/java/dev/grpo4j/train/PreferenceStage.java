package dev.grpo4j.train;

import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.GroupStatistics;
import dev.grpo4j.Weighting;
import dev.grpo4j.dist.DataParallel;
import dev.grpo4j.io.RunFolder;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.platform.LibTorch;
import dev.grpo4j.platform.TensorVectors;
import dev.grpo4j.report.EvalMetrics;
import dev.grpo4j.report.MetricsWriter;
import dev.grpo4j.report.RunLog;
import dev.grpo4j.report.StepMetrics;
import dev.grpo4j.text.GroupIndex;
import dev.grpo4j.torch.EncodedPairs;
import dev.grpo4j.torch.PreferenceObjective;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.ref.Reference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.Tensor;

/**
 * The preference stage of a run: {@code --steps} steps of the {@link Loop} through the fused loss, with the
 * learning-rate schedule and reduce-on-plateau, the step log, periodic validation, checkpoints, SIGINT/SIGTERM, and
 * the final test evaluation. With {@code --group-update per-micro-batch} the group weights move after every
 * micro-batch, in micro-batch order on every rank ({@link MicroBatchReplay}); with {@code per-step} once, after the
 * step's gradient.
 */
final class PreferenceStage {
  static {
    LibTorch.load();
  }

  /** The model being trained and how it is saved. */
  record Policy(TransformerLm model, PolicyLayout layout, AdamW optimizer) {}

  /** The encoded splits with their reference log-probs; validation and test may be null. */
  record Splits(EncodedPairs train, EncodedPairs validation, EncodedPairs test) {}

  /**
   * What the stage ended with.
   *
   * @param finalEvaluation the test evaluation, or the last validation one without a test split; null without both
   * @param groupWeights the objective's group weights after the last step; null for the average weighting
   * @param firstStep the first step this process ran (after a resume, the one after the checkpoint)
   */
  record Outcome(EvalMetrics finalEvaluation, double[] groupWeights, int firstStep) {}

  private final TrainConfig config;
  private final DataParallel dp;
  private final RunFolder folder;
  private final boolean progressBar;
  private final PrintWriter err;

  PreferenceStage(TrainConfig config, DataParallel dp, RunFolder folder, boolean progressBar, PrintWriter err) {
    this.config = config;
    this.dp = dp;
    this.folder = folder;
    this.progressBar = progressBar;
    this.err = err;
  }

  /**
   * Trains {@code policy} from step 1, or from the step after {@code resumed}.
   *
   * @param resumed the checkpoint's trainer state, or null for a fresh start
   * @throws Stopped when SIGINT or SIGTERM asked the run to stop; its checkpoint is written by then
   */
  Outcome run(Policy policy, GroupRobustLoss loss, PreferenceObjective objective, GroupIndex groups, Splits data,
              TrainerState resumed) throws IOException {
    LearningRateSchedule schedule = config.schedule();
    PlateauScaler plateau = config.optimizer().plateau();
    DeadRunWatch deadRun = new DeadRunWatch(config.optimizer().learningRate());
    PairSampler sampler = new PairSampler(data.train().size(), config.loop().seed());
    int firstStep = 1;
    long tokens = 0;
    double seconds = 0;
    if (resumed != null) {
      if (!resumed.groups().equals(groups.names())) {
        throw new IllegalArgumentException("the checkpoint's groups " + resumed.groups() + " differ from the "
            + "training data's " + groups.names() + ": the data files changed since the run started");
      }
      loss.restoreState(resumed.groupWeightState());
      sampler.skipTo(resumed.consumedPairs());
      if (plateau != null) {
        plateau.restore(resumed.plateau());
      }
      firstStep = resumed.step() + 1;
      tokens = resumed.tokens();
      seconds = resumed.seconds();
      if (dp.isMain()) {
        RunLog.truncate(folder.root(), resumed.step(), err::println);
      }
    }
    TransformerLm model = policy.model();
    Loop loop = new Loop(dp, model, policy.optimizer(), config.loop(), sampler, config.optimizer().maxGradNorm(),
        "--lr");
    PairStep work = new PairStep(loss, objective, model, data.train(), groups.size());
    double[] weights = config.loss().weighting() == Weighting.AVERAGE ? null : loss.alpha();
    try (MetricsWriter<StepMetrics> metrics = dp.isMain() ? MetricsWriter.steps(folder.metrics()) : null;
         MetricsWriter<EvalMetrics> evals = dp.isMain() ? MetricsWriter.evaluations(folder.evaluations()) : null;
         ProgressBar bar = progressBar ? bar(firstStep - 1, seconds) : null;
         StopSignals stop = new StopSignals()) {
      if (resumed == null && data.validation() != null && config.loop().evalInterval() > 0) {
        append(evals, evaluate(objective, model, data.validation(), groups, 0, EvalMetrics.Split.VALIDATION));
      }
      EvalMetrics lastValidation = null;
      for (int step = firstStep; step <= config.loop().steps(); step++) {
        long stepStart = System.nanoTime();
        double lr = schedule.at(step) * (plateau == null ? 1 : plateau.scale());
        double gradNorm = loop.step(step, lr, work);
        weights = config.loss().weighting() == Weighting.AVERAGE ? null : widen(work.objectiveWeights);
        double stepSeconds = (System.nanoTime() - stepStart) / 1e9;
        seconds += stepSeconds;
        tokens += work.totals.tokens();
        StepMetrics record = new StepMetrics(step, sampler.epoch(), work.totals.meanLoss(),
            work.totals.groupPairLoss(), work.totals.groupObjectiveLoss(), weights, lr,
            work.totals.tokens() / stepSeconds, gradNorm, stepSeconds);
        append(metrics, record);
        deadRun.observe(step, gradNorm).ifPresent(warning -> {
          err.println();
          err.println(warning);
          err.flush();
        });

        if (data.validation() != null && (step == config.loop().steps()
            || (config.loop().evalInterval() > 0 && step % config.loop().evalInterval() == 0))) {
          EvalMetrics e = evaluate(objective, model, data.validation(), groups, step, EvalMetrics.Split.VALIDATION);
          append(evals, e);
          lastValidation = e;
          if (plateau != null && plateau.observe(e.worstGroupLoss())) {
            err.printf(Locale.ROOT, "%nstep %d: worst-group validation loss %.4f has not improved; "
                + "learning-rate scale now %.3g%n", step, e.worstGroupLoss(), plateau.scale());
          }
        }
        // Every rank stops at the same step when any of them was signalled.
        boolean stopping = dp.anyTrue(stop.requested());
        if (step == config.loop().steps() || stopping
            || (config.loop().checkpointInterval() > 0 && step % config.loop().checkpointInterval() == 0)) {
          requireReplicasAgree(model, loss, step);
          TrainerState state = new TrainerState(step, sampler.consumed(), groups.names(), loss.state().logAlpha(),
              loss.state().steps(), plateau == null ? null : plateau.state(), tokens, seconds);
          Path written = dp.isMain() ? RunCheckpoints.save(folder.root(), model, policy.layout(),
              policy.optimizer(), state, config.loop().keepCheckpoints()) : null;
          if (stopping) {
            dp.barrier();
            throw stop.requested() ? new Stopped(stop.signal(), stop.exitCode(), step, written)
                : new Stopped("TERM", 143, step, written);
          }
        }
        if (bar != null) {
          bar.step();
          bar.setExtraMessage(String.format(Locale.ROOT, " loss %.4f worst %.4f %.0f tok/s", record.loss(),
              worst(record.groupPairLoss()), record.tokensPerSecond()));
        }
      }
      EvalMetrics finalEval = lastValidation;
      if (data.test() != null) {
        finalEval = evaluate(objective, model, data.test(), groups, config.loop().steps(), EvalMetrics.Split.TEST);
        append(evals, finalEval);
      }
      requireReplicasAgree(model, loss, config.loop().steps());
      return new Outcome(finalEval, weights, firstStep);
    }
  }

  /** One preference step: each round's micro-batches through the fused loss, with the group steps replayed. */
  private final class PairStep implements Loop.Step {
    private final GroupRobustLoss loss;
    private final PreferenceObjective objective;
    private final TransformerLm model;
    private final EncodedPairs train;
    private final int groups;
    private final boolean perStep = config.loss().groupUpdate() == GroupUpdate.PER_STEP;
    private StepTotals totals;
    private GroupStatistics stepStatistics;
    private float[] objectiveWeights;

    PairStep(GroupRobustLoss loss, PreferenceObjective objective, TransformerLm model, EncodedPairs train,
             int groups) {
      this.loss = loss;
      this.objective = objective;
      this.model = model;
      this.train = train;
      this.groups = groups;
    }

    @Override
    public void begin(int step, int[][] microBatches) {
      totals = new StepTotals(groups);
      stepStatistics = GroupStatistics.empty(groups);
    }

    @Override
    public long dropoutSeed(int step, int m) {
      return config.loop().seed() * 1_000_003L + ((long) step << 20) + m;
    }

    @Override
    public void round(int step, int first, int[][] round) {
      // Alone, the replay is this process's own group step; on several ranks, every rank's in turn.
      MicroBatchReplay replay = new MicroBatchReplay(loss, dp, train, round, perStep);
      objective.accumulate(model, train, round[dp.rank()],
          1.0 / ((double) config.loop().gradientAccumulation() * round.length), replay::groupStep);
      for (int r = 0; r < round.length; r++) {
        totals.add(replay.objective(r), replay.groupLosses(r), replay.pairLossSums(r), train.tokens(round[r]));
        if (perStep) {
          stepStatistics = stepStatistics.plus(replay.statistics(r));
        }
      }
      objectiveWeights = replay.objectiveWeights(round.length - 1);
    }

    @Override
    public void end(int step) {
      if (perStep) {
        objectiveWeights = loss.groupStep(stepStatistics, true).objectiveWeights();
      }
    }
  }

  /**
   * Evaluates in chunks of {@code --eval-batch-size}, as the reference was scored: before the first step the
   * policy then sees exactly the reference's batches and every margin is exactly 0.
   */
  private EvalMetrics evaluate(PreferenceObjective objective, TransformerLm model, EncodedPairs data, GroupIndex groups,
                               int step, EvalMetrics.Split split) {
    model.eval();
    int chunk = config.loop().evalBatchSize();
    // Each rank evaluates a run of whole chunks, as one process forms them; every rank gets all results.
    int[] range = dp.shardOfChunks(data.size(), chunk);
    int[] lengths = dp.shardLengths(data.size(), chunk);
    PreferenceObjective.PairResults mine = objective.evaluatePairs(model, data, range[0], range[1], chunk);
    PreferenceObjective.PairResults all = new PreferenceObjective.PairResults(dp.gather(mine.pairLosses(), lengths),
        dp.gather(mine.margins(), lengths), dp.gather(mine.chosenRewards(), lengths),
        dp.gather(mine.rejectedRewards(), lengths), dp.gather(mine.chosenLogps(), lengths),
        dp.gather(mine.rejectedLogps(), lengths), dp.gather(mine.groups(), lengths));
    return SplitEvaluation.of(step, split, groups.names(), all);
  }

  /** Fails unless every rank holds the same weights and group weights (SHA-256 of both). */
  private void requireReplicasAgree(TransformerLm model, GroupRobustLoss loss, int step) {
    dp.requireReplicasAgree(() -> {
      try {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (Tensor p : TensorVectors.owned(model.parameters())) {
          Tensor dense = p.detach().contiguous();
          sha.update(HostTensors.data(dense).asByteBuffer());
          Reference.reachabilityFence(dense);
        }
        for (double a : loss.state().logAlpha()) {
          sha.update(Long.toString(Double.doubleToRawLongBits(a)).getBytes(StandardCharsets.US_ASCII));
        }
        return sha.digest();
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }, step);
  }

  private ProgressBar bar(int done, double seconds) {
    return Progress.bar(config.loss().label(), config.loop().steps(), " steps", done,
        Duration.ofMillis((long) (seconds * 1000)));
  }

  private static <T> void append(MetricsWriter<T> writer, T record) throws IOException {
    if (writer != null) {
      writer.append(record);
    }
  }

  private static double worst(double[] values) {
    double worst = Double.NaN;
    for (double v : values) {
      if (!Double.isNaN(v) && !(v <= worst)) {
        worst = v;
      }
    }
    return worst;
  }

  private static double[] widen(float[] values) {
    double[] out = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = values[i];
    }
    return out;
  }
}
