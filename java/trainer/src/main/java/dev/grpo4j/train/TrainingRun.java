package dev.grpo4j.train;

import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.dist.DataParallel;
import dev.grpo4j.io.AtomicDirectory;
import dev.grpo4j.io.RunFolder;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.platform.LibTorch;
import dev.grpo4j.report.EvalMetrics;
import dev.grpo4j.report.RunReport;
import dev.grpo4j.text.TextTokenizer;
import dev.grpo4j.torch.FusedHeadSettings;
import dev.grpo4j.torch.PreferenceObjective;
import dev.grpo4j.torch.SequenceScorer;
import dev.grpo4j.torch.TorchPreferenceLoss;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * One training run in its folder ({@link RunFolder}): the data ({@link RunData}), the policy, fresh with its
 * optional SFT stage or restored from a checkpoint ({@link RunModels}), the reference log-probs
 * ({@link RunReferences}), the preference stage ({@link PreferenceStage} on the {@link Loop}), and the final model
 * and report. Rank 0 alone writes the folder; the caller holds its {@link dev.grpo4j.io.FolderLock}.
 */
public final class TrainingRun {
  static {
    LibTorch.load();
  }

  /**
   * How a run is carried out, apart from its settings: nothing here changes a number it computes.
   *
   * @param threads CPU threads for libtorch and the kernels, or null for libtorch's default
   * @param progressBars show progress bars (plain lines when not on a terminal)
   * @param printSummary print the final per-group table on {@code out}
   * @param referenceCache folder that caches reference log-probs across runs, or null for none
   * @param fusedHead whether the loss is taken from the hidden states through the fused LM head (null: auto); it
   *     changes numbers only by float32 rounding
   */
  public record Options(Integer threads, boolean progressBars, boolean printSummary, Path referenceCache,
                        FusedHeadSettings fusedHead) {
    public Options {
      fusedHead = fusedHead == null ? FusedHeadSettings.defaults() : fusedHead;
    }
  }

  /**
   * What a finished run produced.
   *
   * @param finalEvaluation the test evaluation, or the last validation one without a test split; null without both
   * @param groups group labels in id order
   * @param groupWeights the objective's group weights after the last step; null for a method without group weights
   * @param finalModel the {@code final/} folder
   * @param report the run's {@code report.md}
   */
  public record Result(EvalMetrics finalEvaluation, List<String> groups, double[] groupWeights, Path finalModel,
                       Path report) {}

  private final TrainConfig config;
  private final RunFolder folder;
  private final Options options;
  private final PrintWriter out;
  private final PrintWriter err;
  private final DataParallel dp;

  /**
   * One process's run.
   *
   * @param out receives the final summary
   * @param err receives progress, warnings and notes
   */
  public TrainingRun(TrainConfig config, Path runDir, Options options, PrintWriter out, PrintWriter err) {
    this(config, runDir, options, out, err, DataParallel.single());
  }

  /**
   * One rank of a data-parallel run: every rank trains the same model on its share of each step, the group
   * statistics are gathered so that every rank takes the same group-weight steps, and the gradients are summed. With
   * {@code W} ranks and {@code --batch-size B}, a step is exactly one process's step with {@code --batch-size B/W}
   * and {@code --grad-accumulation W x A} ({@link Loop}).
   */
  public TrainingRun(TrainConfig config, Path runDir, Options options, PrintWriter out, PrintWriter err,
                     DataParallel dp) {
    config.requireWorldSize(dp.worldSize());
    this.config = config;
    this.folder = new RunFolder(runDir);
    this.options = options;
    this.out = out;
    this.err = err;
    this.dp = dp;
  }

  /**
   * Trains. With {@code resume}, continues from the newest intact checkpoint: a damaged one (truncated weights or
   * optimizer state, garbled trainer state) is reported by file and the one before it is tried; with none intact
   * the run starts again from the beginning with its saved settings.
   *
   * @throws Stopped when SIGINT or SIGTERM asked the run to stop; its checkpoint is written by then
   */
  public Result run(boolean resume) throws IOException {
    long started = System.nanoTime();
    int threads = options.threads() == null ? 0 : options.threads();
    RunModels models = new RunModels(config, folder, dp, ModelSource.placement(dp.device(config.model().device()),
        config.model().dtype(), options.threads()), options.fusedHead(), threads, options.progressBars(), err);
    dp.requireSameConfiguration(config.fingerprint(), "settings");
    RunModels.Resumed resumed = resume ? models.resume() : null;
    RunData data;
    TransformerLm fresh = null;
    try (TextTokenizer tokenizer = ModelSource.tokenizer(config.model().name(), config.model().tokenizer())) {
      data = RunData.read(config, tokenizer, err);
      if (resumed == null) {
        fresh = models.load(tokenizer);
      }
    }
    err.println(data.summary());
    RunReferences references = new RunReferences(folder, dp, options.referenceCache(), config.loop().evalBatchSize(),
        options.progressBars(), config.loss().usesReference(), err);
    PreferenceStage.Policy policy;
    PreferenceStage.Splits splits;
    if (resumed == null) {
      Files.createDirectories(folder.root());
      RunModels.Prepared prepared = models.prepare(fresh, data.train().rows());
      policy = prepared.policy();
      SequenceScorer scorer = models.scorer(fresh);
      String hash = prepared.referenceHash();
      splits = new PreferenceStage.Splits(references.score(fresh, scorer, hash, data.train()),
          references.score(fresh, scorer, hash, data.validation()), references.score(fresh, scorer, hash, data.test()));
      if (dp.isMain()) {
        data.writeGroups(folder);
        if (!resume) {
          DataDigests.write(folder.root(), config);
          // Written last: a start that fails before training leaves a folder the same command can simply reuse.
          config.write(folder.root());
        }
      }
    } else {
      policy = resumed.policy();
      splits = new PreferenceStage.Splits(references.saved(data.train()), references.saved(data.validation()),
          references.saved(data.test()));
      err.println("resuming from " + resumed.checkpoint().folder() + " (step " + resumed.state().step() + " of "
          + config.loop().steps() + ")");
    }
    try (GroupRobustLoss loss = config.loss().build(data.groups().size(), data.groupSizes(), models.placement(),
        threads)) {
      PreferenceObjective objective = PreferenceObjective.of(new TorchPreferenceLoss(loss),
          models.fusedHead(policy.model()));
      PreferenceStage.Outcome outcome = new PreferenceStage(config, dp, folder, options.progressBars(), err)
          .run(policy, loss, objective, data.groups(), splits, resumed == null ? null : resumed.state());
      Result result = new Result(outcome.finalEvaluation(), data.groups().names(), outcome.groupWeights(),
          folder.finalModel(), folder.report());
      if (dp.isMain()) {
        AtomicDirectory.write(folder.finalModel(),
            f -> RunCheckpoints.saveModel(policy.model(), policy.layout(), f));
        RunReport.write(folder.root(), RunSummary.reportSettings(config, data.groups().names()));
      }
      dp.barrier();
      if (dp.isMain()) {
        dp.costPerStep(config.loop().steps() - outcome.firstStep() + 1).ifPresent(err::println);
        if (options.printSummary()) {
          RunSummary.print(out, result.finalEvaluation(), result.groups(), result.groupWeights(),
              result.finalModel(), models.referenceModel().toAbsolutePath().normalize(), result.report(),
              (System.nanoTime() - started) / 1e9);
        }
      }
      return result;
    }
  }
}
