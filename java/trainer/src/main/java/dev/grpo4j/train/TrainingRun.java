package dev.grpo4j.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.GroupStatistics;
import dev.grpo4j.NonFiniteInputException;
import dev.grpo4j.Weighting;
import dev.grpo4j.chat.ChatTemplate;
import dev.grpo4j.dist.DataParallel;
import dev.grpo4j.dist.DistributedException;
import dev.grpo4j.io.AtomicDirectory;
import dev.grpo4j.io.AtomicFiles;
import dev.grpo4j.io.FolderLock;
import dev.grpo4j.model.Checkpoints;
import dev.grpo4j.model.LoraAdapters;
import dev.grpo4j.model.LoraConfig;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.report.EvalMetrics;
import dev.grpo4j.report.MetricsWriter;
import dev.grpo4j.report.ReportSettings;
import dev.grpo4j.report.RunLog;
import dev.grpo4j.report.RunReport;
import dev.grpo4j.report.StepMetrics;
import dev.grpo4j.text.GroupIndex;
import dev.grpo4j.text.PairEncoder;
import dev.grpo4j.text.PreferenceData;
import dev.grpo4j.text.PreferenceRecord;
import dev.grpo4j.text.TextTokenizer;
import dev.grpo4j.torch.EncodedPairs;
import dev.grpo4j.torch.FusedHeadSettings;
import dev.grpo4j.torch.FusedLmHead;
import dev.grpo4j.torch.HostTensors;
import dev.grpo4j.torch.LibTorch;
import dev.grpo4j.torch.PreferenceTrainer;
import dev.grpo4j.torch.SequenceScorer;
import dev.grpo4j.torch.TensorVectors;
import dev.grpo4j.torch.TokenPair;
import dev.grpo4j.torch.TorchPreferenceLoss;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.ref.Reference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntConsumer;
import me.tongfei.progressbar.ProgressBar;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.OptimizerParamGroupVector;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * The training engine: one run in its folder: data, optional SFT stage, cached reference log-probs, the preference
 * loop (micro-batches through the fused loss, accumulation, clipping, AdamW, schedule, reduce-on-plateau), periodic
 * validation and checkpoints, the final test evaluation, the final model and the report.
 *
 * <p>Run-folder layout: {@value TrainConfig#FILE}, {@value #GROUPS}, {@code metrics.jsonl}, {@code eval.jsonl},
 * {@code reference/<split>.safetensors} (the reference log-probs this run uses, so a resume never needs the
 * reference model), {@code sft/model} (LoRA runs with an SFT stage: the merged SFT model, the adapters' base),
 * {@code checkpoints/step-N}, {@code final/} and {@code report.md} with its plots. A {@code .grpo4j.lock} file
 * keeps a second process out while the run lives.
 */
public final class TrainingRun {
  static {
    LibTorch.load();
  }

  private static final String REFERENCE = "reference";
  private static final String SFT_MODEL = "sft/model";
  private static final String REFERENCE_MODEL = "reference/model";
  private static final String FINAL = "final";
  /** Each group's id, label and training pairs, in the run folder. */
  public static final String GROUPS = "groups.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One data split, as read, tokenised, and laid out as rows (without reference log-probs yet). */
  private record Split(String name, Path file, List<PreferenceRecord> records, List<TokenPair> pairs,
                       EncodedPairs rows) {}

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
  private final Path runDir;
  private final Integer threads;
  private final boolean progressBar;
  private final Options options;
  private final PrintWriter out;
  private final PrintWriter err;
  private final DataParallel dp;

  /**
   * @param runDir the run folder; the caller holds its {@link dev.grpo4j.io.FolderLock}
   * @param out receives the final summary
   * @param err receives progress, warnings and notes
   */
  public TrainingRun(TrainConfig config, Path runDir, Options options, PrintWriter out, PrintWriter err) {
    this(config, runDir, options, out, err, DataParallel.single());
  }

  /**
   * One rank of a data-parallel run: every rank trains the same model on its share of each micro-batch, the group
   * statistics are gathered so that every rank takes the same group-weight steps, and the gradients are summed; rank
   * 0 alone writes the run folder (its caller holds the lock). With {@code dp} of {@code W} ranks and
   * {@code --batch-size B}, a step is exactly one process's step with {@code --batch-size B/W} and
   * {@code --grad-accumulation W x A}: its micro-batches go to the ranks in turn, and the group weights move after
   * each of them in that order (with {@code --group-update per-step}, once per step).
   */
  public TrainingRun(TrainConfig config, Path runDir, Options options, PrintWriter out, PrintWriter err,
                     DataParallel dp) {
    this.dp = dp;
    requireWorldSize(config, dp.worldSize());
    this.config = config;
    this.runDir = runDir;
    this.options = options;
    this.threads = options.threads();
    this.progressBar = options.progressBars();
    this.out = out;
    this.err = err;
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
    ModelSource.Placement placement = ModelSource.placement(dp.device(config.device()), config.dtype(), threads);
    dp.requireSameConfiguration(config.fingerprint(), "settings");
    Resumed resumed = null;
    if (resume) {
      DataDigests.check(runDir, config);
      if (dp.isMain()) {
        for (String leftover : RunCheckpoints.recover(runDir)) {
          err.println("--resume: tidied " + leftover + ", left by an interrupted write");
        }
      }
      dp.barrier();
      resumed = restoreNewestIntact(placement);
      boolean anyFresh = dp.anyTrue(resumed == null);
      boolean anyResumed = dp.anyTrue(resumed != null);
      if (anyFresh && anyResumed) {
        throw new DistributedException("rank " + dp.rank() + ": the ranks found different checkpoints in " + runDir
            + ": every rank must see the same run folder (a folder all machines share)");
      }
      if (resumed == null) {
        err.println("--resume: " + runDir + " has no intact checkpoint; starting the run again from the beginning "
            + "with its saved settings");
        if (dp.isMain()) {
          truncateLogs(-1);
        }
      }
    }
    GroupIndex groups;
    Split train;
    Split validation;
    Split test;
    TransformerLm policy = null;
    try (TextTokenizer tokenizer = ModelSource.tokenizer(config.model(), config.tokenizer())) {
      PreferenceData.Loaded trainData = read("--train", Path.of(config.trainData()));
      PreferenceData.Loaded validationData = config.validationData() == null ? null
          : read("--validation", Path.of(config.validationData()));
      PreferenceData.Loaded testData = config.testData() == null ? null
          : read("--test", Path.of(config.testData()));
      PairFiles.warnIfUngrouped(trainData, config.reading().groupField(), config.method(), err);
      groups = GroupIndex.of(trainData.records());
      ChatTemplate template = PairFiles.anyConversational(trainData, validationData, testData)
          ? ModelSource.chatTemplate(config.model(), config.tokenizer(), config.reading().chatTemplate(),
              config.reading().chatTemplateKwargs()) : null;
      PairEncoder encoder = new PairEncoder(tokenizer, template, groups, new PairEncoder.EncodeOptions(
          config.maxPromptTokens(), config.maxLength(), config.appendEos()));
      train = encode("train", Path.of(config.trainData()), trainData, encoder);
      validation = validationData == null ? null
          : encode("validation", Path.of(config.validationData()), validationData, encoder);
      test = testData == null ? null : encode("test", Path.of(config.testData()), testData, encoder);
      if (resumed == null) {
        policy = ModelSource.model(config.model(), placement.dtype(), config.seed());
        PairEncoder.requireVocabFits(tokenizer, policy.config().vocabSize());
        placement.moveTo(policy);
      }
    }
    long[] groupSizes = groups.counts(train.records());
    err.println("data: " + train.pairs().size() + " training pairs in " + groups.size() + " groups "
        + groupSummary(groups, groupSizes) + (validation == null ? "" : ", " + validation.pairs().size()
        + " validation") + (test == null ? "" : ", " + test.pairs().size() + " test"));

    EncodedPairs trainPairs;
    EncodedPairs validationPairs;
    EncodedPairs testPairs;
    PolicyLayout layout;
    AdamW optimizer;
    if (resumed == null) {
      Files.createDirectories(runDir);
      LoraConfig lora = prepare(policy, train, placement);
      // The reference is the policy now, adapters off: for LoRA its hash is also the adapters' base's.
      String referenceHash = ReferenceLogProbs.modelHash(policy);
      layout = lora == null ? PolicyLayout.wholeModel(placement.dtype(), tokenizerFolder())
          : adapterLayout(lora, referenceHash, placement);
      trainPairs = withReference(policy, referenceHash, placement, train);
      validationPairs = validation == null ? null : withReference(policy, referenceHash, placement, validation);
      testPairs = test == null ? null : withReference(policy, referenceHash, placement, test);
      if (dp.isMain()) {
        writeGroups(groups, groupSizes);
        if (!resume) {
          DataDigests.write(runDir, config);
          // Written last: a start that fails before training leaves a folder the same command can simply reuse.
          config.write(runDir);
        }
      }
      optimizer = adamW(policy, config.learningRate());
    } else {
      policy = resumed.policy();
      layout = resumed.layout();
      optimizer = resumed.optimizer();
      trainPairs = savedReference(train);
      validationPairs = validation == null ? null : savedReference(validation);
      testPairs = test == null ? null : savedReference(test);
    }

    LearningRateSchedule schedule = config.schedule();
    PlateauScaler plateau = config.plateau();
    DeadRunWatch deadRun = new DeadRunWatch(config.learningRate());
    PairSampler sampler = new PairSampler(trainPairs.size(), config.seed());
    int firstStep = 1;
    long tokens = 0;
    double seconds = 0;
    try (GroupRobustLoss loss = buildLoss(groups.size(), groupSizes, placement)) {
      if (resumed != null) {
        TrainerState state = resumed.state();
        if (!state.groups().equals(groups.names())) {
          throw new IllegalArgumentException("the checkpoint's groups " + state.groups() + " differ from the "
              + "training data's " + groups.names() + ": the data files changed since the run started");
        }
        loss.restoreState(state.groupWeightState());
        sampler.skipTo(state.consumedPairs());
        if (plateau != null) {
          plateau.restore(state.plateau());
        }
        firstStep = state.step() + 1;
        tokens = state.tokens();
        seconds = state.seconds();
        if (dp.isMain()) {
          truncateLogs(state.step());
        }
        err.println("resuming from " + resumed.checkpoint().folder() + " (step " + state.step() + " of "
            + config.steps() + ")");
      }
      PreferenceTrainer trainer = new PreferenceTrainer(policy, optimizer, new TorchPreferenceLoss(loss),
          fusedHead(policy, placement));
      TransformerLm trained = policy;
      double[] weights = config.method().weighting() == Weighting.AVERAGE ? null : loss.alpha();
      try (MetricsWriter<StepMetrics> metrics = dp.isMain() ? MetricsWriter.steps(RunLog.metricsFile(runDir)) : null;
           MetricsWriter<EvalMetrics> evals = dp.isMain() ? MetricsWriter.evaluations(RunLog.evalFile(runDir)) : null;
           ProgressBar bar = progressBar ? bar(firstStep - 1, seconds) : null) {
        if (resumed == null && validationPairs != null && config.evalInterval() > 0) {
          append(evals, evaluate(trainer, policy, validationPairs, groups, 0, EvalMetrics.Split.VALIDATION));
        }
        TensorVector parameters = policy.parameters();
        EvalMetrics lastValidation = null;
        try (StopSignals stop = new StopSignals()) {
          for (int step = firstStep; step <= config.steps(); step++) {
            long stepStart = System.nanoTime();
            double lr = schedule.at(step) * (plateau == null ? 1 : plateau.scale());
            setLearningRate(optimizer, lr);
            policy.train(true);
            optimizer.zero_grad();
            StepTotals totals = new StepTotals(groups.size());
            float[] lastWeights = null;
            boolean perStep = config.groupUpdate() == GroupUpdate.PER_STEP;
            GroupStatistics stepStatistics = GroupStatistics.empty(groups.size());
            int ranks = dp.worldSize();
            int rankPairs = config.batchSize() / ranks;
            double scale = 1.0 / ((double) config.gradientAccumulation() * ranks);
            for (int local = 0; local < config.gradientAccumulation(); local++) {
              // The step's micro-batches go to the ranks in turn: micro-batch m = local * ranks + r is rank r's.
              int[][] microBatches = new int[ranks][];
              for (int r = 0; r < ranks; r++) {
                microBatches[r] = sampler.next(rankPairs);
              }
              int first = local * ranks;
              int[] pairs = microBatches[dp.rank()];
              // Dropout (LoRA) draws from libtorch's generator; seeding it per micro-batch makes micro-batch m the
              // same whether the run got there in one go, through a resume, or on another rank.
              torch.manual_seed(config.seed() * 1_000_003L + ((long) step << 20) + first + dp.rank());
              try {
                // Alone, the replay is this process's own group step; on several ranks, every rank's in turn.
                MicroBatchReplay replay = new MicroBatchReplay(loss, dp, trainPairs, microBatches, perStep);
                trainer.accumulate(trainPairs, pairs, scale, replay::groupStep);
                for (int r = 0; r < ranks; r++) {
                  totals.add(replay.objective(r), replay.groupLosses(r), replay.pairLossSums(r),
                      trainPairs.tokens(microBatches[r]));
                  if (perStep) {
                    stepStatistics = stepStatistics.plus(replay.statistics(r));
                  }
                }
                lastWeights = replay.objectiveWeights(ranks - 1);
              } catch (NonFiniteInputException e) {
                throw diverged(step, lr, e);
              }
            }
            dp.allReduceGradients(parameters);
            float[] objectiveWeights = perStep ? loss.groupStep(stepStatistics, true).objectiveWeights()
                : lastWeights;
            double gradNorm = torch.clip_grad_norm_(parameters,
                config.maxGradNorm() > 0 ? config.maxGradNorm() : Double.POSITIVE_INFINITY);
            optimizer.step();
            weights = config.method().weighting() == Weighting.AVERAGE ? null : widen(objectiveWeights);
            double stepSeconds = (System.nanoTime() - stepStart) / 1e9;
            seconds += stepSeconds;
            tokens += totals.tokens();
            StepMetrics record = new StepMetrics(step, sampler.epoch(), totals.meanLoss(), totals.groupPairLoss(),
                totals.groupObjectiveLoss(), weights, lr, totals.tokens() / stepSeconds, gradNorm, stepSeconds);
            append(metrics, record);
            deadRun.observe(step, gradNorm).ifPresent(warning -> {
              err.println();
              err.println(warning);
              err.flush();
            });

            if (validationPairs != null && (step == config.steps()
                || (config.evalInterval() > 0 && step % config.evalInterval() == 0))) {
              EvalMetrics e = evaluate(trainer, policy, validationPairs, groups, step, EvalMetrics.Split.VALIDATION);
              append(evals, e);
              lastValidation = e;
              if (plateau != null && plateau.observe(e.worstGroupLoss())) {
                err.printf(Locale.ROOT, "%nstep %d: worst-group validation loss %.4f has not improved; "
                    + "learning-rate scale now %.3g%n", step, e.worstGroupLoss(), plateau.scale());
              }
            }
            // Every rank stops at the same step when any of them was signalled.
            boolean stopping = dp.anyTrue(stop.requested());
            boolean checkpoint = step == config.steps() || stopping
                || (config.checkpointInterval() > 0 && step % config.checkpointInterval() == 0);
            if (checkpoint) {
              dp.requireReplicasAgree(() -> replicaDigest(trained, loss), step);
              TrainerState state = new TrainerState(step, sampler.consumed(), groups.names(),
                  loss.state().logAlpha(), loss.state().steps(), plateau == null ? null : plateau.state(), tokens,
                  seconds);
              Path written = dp.isMain()
                  ? RunCheckpoints.save(runDir, policy, layout, optimizer, state, config.keepCheckpoints()) : null;
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
        }
        EvalMetrics finalEval = lastValidation;
        if (testPairs != null) {
          finalEval = evaluate(trainer, policy, testPairs, groups, config.steps(), EvalMetrics.Split.TEST);
          append(evals, finalEval);
        }
        Path finalDir = runDir.resolve(FINAL);
        dp.requireReplicasAgree(() -> replicaDigest(trained, loss), config.steps());
        if (!dp.isMain()) {
          dp.barrier();
          return new Result(finalEval, groups.names(), weights, finalDir, runDir.resolve(RunReport.REPORT_FILE));
        }
        PolicyLayout saved = layout;
        AtomicDirectory.write(finalDir, folder -> RunCheckpoints.saveModel(trained, saved, folder));
        Path report = RunReport.write(runDir, new ReportSettings("grpo4j train: " + config.method().displayName()
            + " on " + config.model(), config.method().displayName(), settings(), groups.names()));
        dp.barrier();
        dp.costPerStep(config.steps() - firstStep + 1).ifPresent(err::println);
        if (options.printSummary()) {
          printSummary(finalEval, groups, weights, finalDir, report, (System.nanoTime() - started) / 1e9);
        }
        return new Result(finalEval, groups.names(), weights, finalDir, report);
      }
    }
  }

  /**
   * The run stopped early on a signal, after writing the checkpoint of {@code step} into {@code checkpoint}.
   *
   * @param signal {@code INT} or {@code TERM}
   * @param exitCode 128 + the signal's number
   */
  public static final class Stopped extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient String signal;
    private final int exitCode;
    private final int step;
    private final transient Path checkpoint;

    Stopped(String signal, int exitCode, int step, Path checkpoint) {
      super("stopped by SIG" + signal + " after step " + step);
      this.signal = signal;
      this.exitCode = exitCode;
      this.step = step;
      this.checkpoint = checkpoint;
    }

    public String signal() {
      return signal;
    }

    public int exitCode() {
      return exitCode;
    }

    public int step() {
      return step;
    }

    public Path checkpoint() {
      return checkpoint;
    }
  }

  private static IllegalArgumentException diverged(int step, double lr, NonFiniteInputException e) {
    return new IllegalArgumentException(String.format(Locale.ROOT, "the model produced NaN or infinite logits at "
        + "step %d (learning rate %.3g): training diverged. Lower --lr, keep --max-grad-norm on (e.g. 1.0), or "
        + "resume from an earlier checkpoint. Kernel: %s", step, lr, e.getMessage()), e);
  }

  /** A checkpoint restored completely: weights, adapters, optimizer state and trainer state. */
  private record Resumed(RunCheckpoints.Checkpoint checkpoint, TransformerLm policy, PolicyLayout layout,
                         AdamW optimizer, TrainerState state) {}

  /**
   * The newest checkpoint that restores completely, trying older ones when a file of a newer one is damaged;
   * null when no checkpoint is intact (or there is none).
   */
  private Resumed restoreNewestIntact(ModelSource.Placement placement) {
    if (config.usesAdapters() && !Files.isDirectory(runDir.resolve(SFT_MODEL))
        && !ModelSource.BUILT_IN.contains(config.model()) && !Files.isDirectory(Path.of(config.model()))) {
      throw new IllegalArgumentException("--resume: the run's base model " + config.model() + " (see "
          + runDir.resolve(TrainConfig.FILE) + ") is no longer there; its adapters cannot be restored without it");
    }
    List<RunCheckpoints.Checkpoint> checkpoints = RunCheckpoints.list(runDir);
    for (int i = checkpoints.size() - 1; i >= 0; i--) {
      RunCheckpoints.Checkpoint checkpoint = checkpoints.get(i);
      try {
        TrainerState state = checkpoint.state();
        state.groupWeightState(); // throws for group weights off the simplex: a damaged file like any other
        Restored restored = restoreModel(checkpoint, placement);
        AdamW optimizer = adamW(restored.policy(), config.learningRate());
        checkpoint.restoreOptimizer(optimizer);
        return new Resumed(checkpoint, restored.policy(), restored.layout(), optimizer, state);
      } catch (IOException | UncheckedIOException | IllegalArgumentException e) {
        err.println("--resume: checkpoint " + checkpoint.folder().getFileName() + " is damaged: " + e.getMessage()
            + (i > 0 ? "; trying " + checkpoints.get(i - 1).folder().getFileName() : ""));
      }
    }
    return null;
  }

  private PreferenceData.Loaded read(String option, Path file) throws IOException {
    return PairFiles.read(option, file, config.reading().readOptions(config.skipBadLines()), err);
  }

  private Split encode(String name, Path file, PreferenceData.Loaded data, PairEncoder encoder) {
    PairEncoder.Encoded encoded;
    try {
      encoded = encoder.encode(data.records());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage()
          + (name.equals("train") ? "" : " (groups come from the training data)"), e);
    }
    PairFiles.reportDegenerate(file.getFileName().toString(), encoded, name.equals("train"), err);
    PairFiles.reportTextSplits(file.getFileName().toString(), encoded, err);
    if (encoded.truncatedPairs() > 0) {
      err.println(name + ": truncated " + encoded.truncatedPairs() + " of " + encoded.pairs().size() + " pairs to "
          + "--max-length " + config.maxLength() + " (prompts cut: " + encoded.truncatedPrompts()
          + ", responses cut: " + encoded.truncatedResponses() + ")");
    }
    return new Split(name, file, data.records(), encoded.pairs(), EncodedPairs.encode(encoded.pairs()));
  }

  /**
   * The SFT stage (if any) and the adapters of a LoRA run; returns the adapters' settings, or null for full
   * fine-tuning. With LoRA, SFT trains adapters that are then merged into the base (saved as {@value #SFT_MODEL}),
   * and fresh adapters are attached for preference optimisation, so that the reference is the adapters-off model.
   */
  private LoraConfig prepare(TransformerLm policy, Split train, ModelSource.Placement placement)
      throws IOException {
    if (config.adapter() != null) {
      if (config.sftSteps() > 0) {
        throw new IllegalArgumentException("--sft-steps with --adapter: the SFT stage would be merged into the "
            + "base and the given adapter lost; run SFT without --adapter, or drop --sft-steps");
      }
      Path adapterDir = Path.of(config.adapter());
      AdapterBase.mismatch(policy, adapterDir).ifPresent(warning -> err.println("warning: " + warning));
      LoraConfig loaded = Checkpoints.loadAdapters(policy, adapterDir);
      placement.moveTo(policy);
      return loaded.withBaseModel(config.model());
    }
    LoraConfig lora = config.lora() == null ? null : config.lora().toConfig(config.model());
    if (config.sftSteps() > 0) {
      if (lora != null) {
        LoraAdapters.attach(policy, lora, config.seed());
        placement.moveTo(policy);
      }
      new SupervisedStage(config, dp, progressBar, err).run(policy, train.rows(), fusedHead(policy, placement));
      if (lora != null) {
        LoraAdapters.merge(policy);
        Path sftModel = runDir.resolve(SFT_MODEL).toAbsolutePath().normalize();
        if (dp.isMain()) {
          RunCheckpoints.saveWholeModel(policy, placement.dtype(), tokenizerFolder(), sftModel);
        }
        // The preference adapters are trained on the merged SFT model: that is their base, not --model.
        lora = lora.withBaseModel(sftModel.toString());
      }
    }
    if (lora != null) {
      LoraAdapters.attach(policy, lora, config.seed() + 1);
      placement.moveTo(policy);
    } else if (config.sftSteps() > 0 || ModelSource.BUILT_IN.contains(config.model())) {
      // Full fine-tuning changes every weight: keep the reference, which exists nowhere else (an SFT result, or a
      // built-in model drawn from the seed), so that eval can compare against it with --reference.
      if (dp.isMain()) {
        RunCheckpoints.saveWholeModel(policy, placement.dtype(), tokenizerFolder(), referenceModel());
      }
    }
    return lora;
  }

  /** Refuses to go on with a run on another number of processes than it was set up for. */
  public static void requireWorldSize(TrainConfig config, int worldSize) {
    if (config.worldSize() != worldSize) {
      throw new IllegalArgumentException("this run was set up for " + config.worldSize() + " process"
          + (config.worldSize() == 1 ? "" : "es") + " but runs on " + worldSize + ": a run keeps its number of "
          + "processes (it decides how each step's pairs are split); resume it with --nproc-per-node "
          + config.worldSize() + " (x --nnodes)");
    }
  }

  /**
   * Whether a run folder's entry {@code name} is one a run writes before its {@value TrainConfig#FILE}: all that a
   * start which failed early can leave, and so all that a new run may find in its folder.
   */
  public static boolean isWrittenBeforeItsConfig(String name) {
    return name.equals(FolderLock.FILE) || name.equals(GROUPS) || name.equals(REFERENCE)
        || name.equals(DataDigests.FILE) || name.equals(Path.of(SFT_MODEL).getName(0).toString())
        || AtomicFiles.isStaging(name) || AtomicDirectory.isStaging(name);
  }

  /**
   * The folder of the frozen reference model of this run: {@value #SFT_MODEL} for LoRA after SFT (also the
   * adapters' base), {@value #REFERENCE_MODEL} for full fine-tuning after SFT or from a built-in model, otherwise
   * {@code --model} itself.
   */
  public static Path referenceModel(Path runDir, TrainConfig config) {
    if (config.usesAdapters()) {
      return config.sftSteps() > 0 ? runDir.resolve(SFT_MODEL) : Path.of(config.model());
    }
    return config.sftSteps() > 0 || ModelSource.BUILT_IN.contains(config.model()) ? runDir.resolve(REFERENCE_MODEL)
        : Path.of(config.model());
  }

  private Path referenceModel() {
    return referenceModel(runDir, config).toAbsolutePath().normalize();
  }

  /**
   * The split with reference log-probs: the reference is the policy as it is now (after SFT, adapters off; its
   * {@link ReferenceLogProbs#modelHash} is {@code referenceHash}), scored once, cached across runs and copied into
   * the run folder.
   */
  private EncodedPairs withReference(TransformerLm policy, String referenceHash, ModelSource.Placement placement,
                                     Split split) throws IOException {
    boolean adapters = policy.adaptersEnabled();
    policy.setAdaptersEnabled(false);
    policy.eval();
    SequenceScorer.Scores scores;
    try (ProgressBar bar = progressBar ? Progress.bar("reference " + split.name(), split.pairs().size(), " pairs")
        : null) {
      IntConsumer progress = done -> {
        if (bar != null) {
          bar.stepBy(done);
        }
      };
      SequenceScorer scorer = new SequenceScorer(policy, placement.backend(), placement.device(),
          fusedHead(policy, placement));
      scores = ReferenceLogProbs.scoreCached(scorer, options.referenceCache(), split.file(), referenceHash,
          split.pairs(), config.evalBatchSize(), dp, progress, err::println);
    } finally {
      policy.setAdaptersEnabled(adapters);
    }
    if (dp.isMain()) {
      Files.createDirectories(runDir.resolve(REFERENCE));
      ReferenceLogProbs.write(referenceFile(split), scores);
    }
    return split.rows().withReference(scores.chosen(), scores.rejected());
  }

  private EncodedPairs savedReference(Split split) {
    Path file = referenceFile(split);
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("cannot resume: " + file + " is missing (the reference log-probs of the "
          + split.name() + " split); start a new run");
    }
    SequenceScorer.Scores scores = ReferenceLogProbs.read(file, split.pairs().size());
    return split.rows().withReference(scores.chosen(), scores.rejected());
  }

  private Path referenceFile(Split split) {
    return runDir.resolve(REFERENCE).resolve(split.name() + ".safetensors");
  }

  /** A policy restored from a checkpoint, with how to save it. */
  private record Restored(TransformerLm policy, PolicyLayout layout) {}

  /** The policy as the checkpoint saved it: the whole model, or the adapters on the (SFT-merged) base. */
  private Restored restoreModel(RunCheckpoints.Checkpoint checkpoint, ModelSource.Placement placement) {
    TransformerLm policy;
    PolicyLayout layout;
    if (config.usesAdapters()) {
      Path sft = runDir.resolve(SFT_MODEL);
      policy = Files.isDirectory(sft) ? Checkpoints.load(sft, placement.dtype())
          : ModelSource.model(config.model(), placement.dtype(), config.seed());
      String baseHash = ReferenceLogProbs.modelHash(policy);
      LoraConfig lora = Checkpoints.loadAdapters(policy, checkpoint.folder().resolve(RunCheckpoints.ADAPTER));
      layout = adapterLayout(lora, baseHash, placement);
    } else {
      policy = Checkpoints.load(checkpoint.folder().resolve(RunCheckpoints.MODEL), placement.dtype());
      layout = PolicyLayout.wholeModel(placement.dtype(), tokenizerFolder());
    }
    placement.moveTo(policy);
    return new Restored(policy, layout);
  }

  private PolicyLayout adapterLayout(LoraConfig lora, String baseHash, ModelSource.Placement placement) {
    return new PolicyLayout(lora, new AdapterBase(lora.baseModel(), baseHash), placement.dtype(), tokenizerFolder());
  }

  private Path tokenizerFolder() {
    return ModelSource.tokenizerFolder(config.model(), config.tokenizer());
  }

  /**
   * Writes {@value #GROUPS}: each group's id, label and training pairs, so that the ids in the logs and the
   * checkpoints can be read without re-deriving them from the data.
   */
  private void writeGroups(GroupIndex groups, long[] sizes) throws IOException {
    ObjectNode json = JSON.createObjectNode();
    ArrayNode list = json.putArray("groups");
    for (int g = 0; g < groups.size(); g++) {
      list.addObject().put("id", g).put("label", groups.name(g)).put("train_pairs", sizes[g]);
    }
    AtomicFiles.write(runDir.resolve(GROUPS), stream -> stream.write(JSON.writerWithDefaultPrettyPrinter()
        .writeValueAsBytes(json)));
  }

  /** Drops log lines past the checkpoint: an interrupted run wrote them, the resumed run writes them again. */
  private void truncateLogs(int step) throws IOException {
    Path metricsFile = RunLog.metricsFile(runDir);
    if (Files.exists(metricsFile)) {
      List<String> kept = RunLog.readMetrics(metricsFile, err::println).stream().filter(m -> m.step() <= step)
          .map(StepMetrics::toJson).toList();
      rewrite(metricsFile, kept);
    }
    Path evalFile = RunLog.evalFile(runDir);
    if (Files.exists(evalFile)) {
      List<String> kept = RunLog.readEval(evalFile, err::println).stream()
          .filter(e -> e.step() <= step && e.split() == EvalMetrics.Split.VALIDATION).map(EvalMetrics::toJson)
          .toList();
      rewrite(evalFile, kept);
    }
  }

  private static void rewrite(Path file, List<String> lines) throws IOException {
    AtomicFiles.write(file, stream -> {
      BufferedWriter w = new BufferedWriter(new OutputStreamWriter(stream, StandardCharsets.UTF_8));
      for (String line : lines) {
        w.write(line);
        w.write('\n');
      }
      w.flush();
    });
  }

  private FusedLmHead fusedHead(TransformerLm policy, ModelSource.Placement placement) {
    return options.fusedHead().resolve(policy, placement.backend(), threads == null ? 0 : threads,
        placement.cudaStream());
  }

  private GroupRobustLoss buildLoss(int groups, long[] groupSizes, ModelSource.Placement placement) {
    return GroupRobustLoss.builder()
        .lossType(config.method().lossType())
        .weighting(config.method().weighting())
        .beta(config.beta())
        .eta(config.eta())
        .chi(config.chi())
        .adjustment(config.method().weighting() == Weighting.ROBUST ? config.adjustment() : 0)
        .labelSmoothing(config.labelSmoothing())
        .ipoLengthNormalization(config.ipoLengthNormalization())
        .groupNormalization(config.groupNormalization())
        .groups(groups)
        .groupSizes(groupSizes)
        .backend(placement.backend())
        .cudaStream(placement.cudaStream())
        .threads(threads == null ? 0 : threads)
        .build();
  }

  /**
   * Evaluates in chunks of {@code --eval-batch-size}, as the reference was scored: before the first step the
   * policy then sees exactly the reference's batches and every margin is exactly 0.
   */
  private EvalMetrics evaluate(PreferenceTrainer trainer, TransformerLm policy, EncodedPairs data,
                               GroupIndex groups, int step, EvalMetrics.Split split) {
    policy.eval();
    int chunk = config.evalBatchSize();
    // Each rank evaluates a run of whole chunks, as one process forms them; every rank gets all results.
    int[] range = dp.shardOfChunks(data.size(), chunk);
    int[] lengths = dp.shardLengths(data.size(), chunk);
    PreferenceTrainer.PairResults mine = trainer.evaluatePairs(data, range[0], range[1], chunk);
    PreferenceTrainer.PairResults all = new PreferenceTrainer.PairResults(dp.gather(mine.pairLosses(), lengths),
        dp.gather(mine.margins(), lengths), dp.gather(mine.chosenRewards(), lengths),
        dp.gather(mine.rejectedRewards(), lengths), dp.gather(mine.chosenLogps(), lengths),
        dp.gather(mine.rejectedLogps(), lengths), dp.gather(mine.groups(), lengths));
    return SplitEvaluation.of(step, split, groups.names(), all);
  }

  /** SHA-256 of a replica: the weights and the group weights, which every rank of a run holds the same. */
  private static byte[] replicaDigest(TransformerLm policy, GroupRobustLoss loss) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (Tensor p : TensorVectors.owned(policy.parameters())) {
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
  }

  private static <T> void append(MetricsWriter<T> writer, T record) throws IOException {
    if (writer != null) {
      writer.append(record);
    }
  }

  private AdamW adamW(TransformerLm policy, double lr) {
    return adamW(policy, lr, config.weightDecay());
  }

  /** AdamW over the trainable parameters, with libtorch's defaults except the weight decay (libtorch: 0.01). */
  static AdamW adamW(TransformerLm policy, double lr, double weightDecay) {
    AdamWOptions options = new AdamWOptions(lr);
    options.weight_decay().put(weightDecay);
    return new AdamW(policy.parameters(), options);
  }

  private static void setLearningRate(Optimizer optimizer, double lr) {
    OptimizerParamGroupVector groups = optimizer.param_groups();
    for (long i = 0; i < groups.size(); i++) {
      groups.get(i).options().set_lr(lr);
    }
  }

  private ProgressBar bar(int done, double seconds) {
    return Progress.bar(config.method().displayName(), config.steps(), " steps", done,
        Duration.ofMillis((long) (seconds * 1000)));
  }

  private Map<String, String> settings() {
    Map<String, String> s = new LinkedHashMap<>();
    s.put("model", config.model() + (config.adapter() != null ? " + adapter " + config.adapter() : ""));
    s.put("fine-tuning", config.lora() != null ? "LoRA rank " + config.lora().rank() + ", alpha "
        + config.lora().alpha() + ", dropout " + config.lora().dropout() + ", " + config.lora().targetModules()
        : config.adapter() != null ? "LoRA (continued adapter)" : "full");
    s.put("data", "train " + config.trainData() + (config.validationData() != null ? ", validation "
        + config.validationData() : "") + (config.testData() != null ? ", test " + config.testData() : ""));
    s.put("beta", Double.toString(config.beta()));
    if (config.method().weighting() == Weighting.ROBUST) {
      s.put("eta", Double.toString(config.eta()));
      s.put("chi", Double.toString(config.chi()));
      s.put("adjustment", Double.toString(config.adjustment()));
    }
    s.put("group normalisation", config.groupNormalization().name());
    s.put("label smoothing", Double.toString(config.labelSmoothing()));
    s.put("SFT steps", config.sftSteps() + (config.sftSteps() > 0 ? " (lr " + config.sftLearningRate() + ")" : ""));
    s.put("steps", config.steps() + " of " + config.batchSize() + " x " + config.gradientAccumulation() + " pairs");
    s.put("learning rate", config.learningRate() + ", " + config.decay().cliName() + " after "
        + config.warmupSteps() + " warm-up steps" + (config.plateauPatience() >= 0 ? ", reduce-on-plateau patience "
        + config.plateauPatience() + " factor " + config.plateauFactor() : ""));
    s.put("weight decay", Double.toString(config.weightDecay()));
    s.put("max grad norm", config.maxGradNorm() > 0 ? Double.toString(config.maxGradNorm()) : "off");
    s.put("max lengths", "prompt " + config.maxPromptTokens() + ", total " + config.maxLength());
    s.put("seed", Long.toString(config.seed()));
    return s;
  }

  private void printSummary(EvalMetrics eval, GroupIndex groups, double[] weights, Path finalDir, Path report,
                            double seconds) {
    if (eval != null) {
      out.println();
      out.println(eval.split().label() + " split, per group (step " + eval.step() + "):");
      out.println();
      out.print(RunReport.groupTable(eval, groups.names(), weights));
    }
    out.println();
    out.printf(Locale.ROOT, "Finished in %.1f s. Model: %s; reference model: %s; report: %s%n", seconds, finalDir,
        referenceModel(), report);
    out.flush();
  }

  private static String groupSummary(GroupIndex groups, long[] sizes) {
    List<String> parts = new ArrayList<>();
    for (int g = 0; g < sizes.length; g++) {
      parts.add(groups.name(g) + ": " + sizes[g]);
    }
    return "(" + String.join(", ", parts) + ")";
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
