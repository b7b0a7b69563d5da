package dev.grpo4j.cli;

import dev.grpo4j.GroupNormalization;
import dev.grpo4j.dist.Collectives;
import dev.grpo4j.dist.DataParallel;
import dev.grpo4j.dist.Launcher;
import dev.grpo4j.dist.LauncherWatch;
import dev.grpo4j.dist.WorkerEnv;
import dev.grpo4j.io.FolderLock;
import dev.grpo4j.io.RunFolder;
import dev.grpo4j.model.family.ModelFamilies;
import dev.grpo4j.text.PairEncoder;
import dev.grpo4j.train.DataSpec;
import dev.grpo4j.train.GroupUpdate;
import dev.grpo4j.train.LearningRateSchedule;
import dev.grpo4j.train.LoopSpec;
import dev.grpo4j.train.LossSpec;
import dev.grpo4j.train.LossTerms;
import dev.grpo4j.train.Method;
import dev.grpo4j.train.ModelSource;
import dev.grpo4j.train.ModelSpec;
import dev.grpo4j.train.OptimizerSpec;
import dev.grpo4j.train.PairFiles;
import dev.grpo4j.train.SftSpec;
import dev.grpo4j.train.Stopped;
import dev.grpo4j.train.TrainConfig;
import dev.grpo4j.train.TrainingRun;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code grpo4j train}: preference optimisation of a causal LM with any of the six methods or any pair losses of the
 * table under a weighting, end to end (see
 * {@link TrainingRun} for the loop and the run folder).
 */
@Command(name = "train",
    sortOptions = false,
    description = {
        "Trains a causal LM on preference pairs from labeller groups with DPO, IPO, their importance-sampled forms "
            + "(IS-DPO, IS-IPO) or their group-robust forms (GR-DPO, GR-IPO, Ramesh et al. 2024), or with any of "
            + "TRL's pair losses under any of these weightings (--loss, --weighting), optionally after "
            + "an SFT stage; evaluates per group, checkpoints, and writes metrics.jsonl, eval.jsonl, report.md and "
            + "plots into --out. Data: TRL's standard, conversational or implicit-prompt records with a group label, "
            + "in JSONL, JSON, CSV or Parquet.",
        ""})
public final class TrainCommand implements Callable<Integer>, UsesLibTorch {
  /** Options a resumed run may change: they do not affect the numbers. */
  private static final Set<String> RESUMABLE_OPTIONS = Set.of("--out", "--resume", "--threads", "--no-progress",
      "--reference-cache", "--nproc-per-node", "--nnodes", "--node-rank", "--master-addr", "--master-port",
      "--dist-timeout");

  /** Processes of this run: 1, or the data-parallel job's world size. */
  private int worldSize = 1;

  @Spec
  private CommandSpec spec;

  @Mixin
  private ModelOptions modelOptions;

  @Mixin
  private ReferenceCacheOption referenceCache;

  @Option(names = "--lora-rank", paramLabel = "R",
      description = "Train fresh LoRA adapters of this rank instead of every weight (the base stays frozen and is "
          + "the reference model).")
  private Integer loraRank;

  @Option(names = "--lora-alpha", paramLabel = "A", description = "LoRA alpha (default: 2 x rank).")
  private Double loraAlpha;

  @Option(names = "--lora-dropout", defaultValue = "0", paramLabel = "P",
      description = "LoRA dropout (default: ${DEFAULT-VALUE}).")
  private double loraDropout;

  @Option(names = "--lora-targets", split = ",", paramLabel = "MODULES",
      description = "Comma-separated linear layers that get adapters, by their Hugging Face names (default: the "
          + "attention's: q_proj,k_proj,v_proj,o_proj; qkv_proj,o_proj for Phi-3).")
  private List<String> loraTargets;

  @Option(names = "--train", paramLabel = "FILE",
      description = "Training pairs (JSONL, JSON, CSV or Parquet); the groups and their sizes N_g come from this file.")
  private Path trainData;

  @Option(names = "--validation", paramLabel = "FILE",
      description = "Validation pairs: evaluated every --eval-every steps, watched by reduce-on-plateau.")
  private Path validationData;

  @Option(names = "--test", paramLabel = "FILE", description = "Test pairs: evaluated once at the end.")
  private Path testData;

  @Mixin
  private PairOptions pairOptions;

  @Option(names = "--method", paramLabel = "NAME", converter = MethodConverter.class,
      description = "dpo, ipo, is-dpo, is-ipo, gr-dpo or gr-ipo (default: gr-dpo, unless --loss names the losses).")
  private Method method;

  @Mixin
  private LossOptions lossOptions;

  @Option(names = "--beta", defaultValue = "0.1", description = "Inverse temperature beta (default: ${DEFAULT-VALUE}).")
  private double beta;

  @Option(names = "--eta", defaultValue = "0.01",
      description = "Group-weight step size of GR-DPO / GR-IPO (default: ${DEFAULT-VALUE}).")
  private double eta;

  @Option(names = "--chi", defaultValue = "1",
      description = "Mix of robust and uniform weights, w = (1-chi)/K + chi*alpha (default: ${DEFAULT-VALUE}).")
  private double chi;

  @Option(names = "--adjustment", defaultValue = "0", paramLabel = "C",
      description = "Generalisation adjustment: L_g + C/sqrt(N_g) in the weight update (default: ${DEFAULT-VALUE}).")
  private double adjustment;

  @Option(names = "--group-normalization", defaultValue = "dataset_frequency", paramLabel = "MODE",
      description = "Group loss in a batch: dataset_frequency (N/(N_g B) x sum, the paper's) or batch_mean "
          + "(default: ${DEFAULT-VALUE}).")
  private GroupNormalization groupNormalization;

  @Option(names = "--label-smoothing", defaultValue = "0", paramLabel = "EPS",
      description = "Label smoothing in [0, 0.5) of the losses that read it: conservative DPO for dpo and sigmoid, "
          + "the flip rate of robust, EXO's eps (default: ${DEFAULT-VALUE}).")
  private double labelSmoothing;

  @Option(names = "--ipo-length-normalization",
      description = "IPO: divide the margin by the response lengths.")
  private boolean ipoLengthNormalization;

  @Option(names = "--sft-steps", defaultValue = "0", paramLabel = "N",
      description = "Supervised fine-tuning steps on the chosen responses first; the result is the reference "
          + "model (default: ${DEFAULT-VALUE}).")
  private int sftSteps;

  @Option(names = "--sft-lr", defaultValue = "1e-5", paramLabel = "LR",
      description = "SFT learning rate (default: ${DEFAULT-VALUE}).")
  private double sftLearningRate;

  @Option(names = "--batch-size", defaultValue = "8", paramLabel = "PAIRS",
      description = "Pairs per micro-batch (default: ${DEFAULT-VALUE}).")
  private int batchSize;

  @Option(names = "--grad-accumulation", defaultValue = "1", paramLabel = "N",
      description = "Micro-batches per optimiser step (default: ${DEFAULT-VALUE}).")
  private int gradientAccumulation;

  @Option(names = "--group-update", defaultValue = "per-micro-batch", paramLabel = "WHEN",
      converter = GroupUpdateConverter.class,
      description = "When the group weights move: per-micro-batch (after each micro-batch, on its pairs) or "
          + "per-step (once per optimiser step, on all its micro-batches' pairs) (default: ${DEFAULT-VALUE}).")
  private GroupUpdate groupUpdate;

  @Option(names = "--lr", defaultValue = "5e-6", paramLabel = "LR",
      description = "Peak learning rate of AdamW (default: ${DEFAULT-VALUE}).")
  private double learningRate;

  @Option(names = "--weight-decay", defaultValue = "0", description = "AdamW weight decay (default: ${DEFAULT-VALUE}).")
  private double weightDecay;

  @Option(names = "--decay-norms-and-biases",
      description = "Apply --weight-decay to every parameter; by default biases and norm weights are spared, as "
          + "transformers' Trainer (and so TRL) spares them.")
  private boolean decayNormsAndBiases;

  @Option(names = "--warmup-steps", defaultValue = "0", paramLabel = "N",
      description = "Linear warm-up steps (default: ${DEFAULT-VALUE}).")
  private int warmupSteps;

  @Option(names = "--schedule", defaultValue = "constant", paramLabel = "SHAPE",
      description = "After the warm-up: constant, linear or cosine (default: ${DEFAULT-VALUE}).")
  private LearningRateSchedule.Decay decay;

  @Option(names = "--plateau-patience", defaultValue = "-1", paramLabel = "N",
      description = "Reduce-on-plateau: scale the learning rate by --plateau-factor after N validations without a "
          + "better worst-group validation loss; -1 is off (default: ${DEFAULT-VALUE}).")
  private int plateauPatience;

  @Option(names = "--plateau-factor", defaultValue = "0.5", description = "(default: ${DEFAULT-VALUE})")
  private double plateauFactor;

  @Option(names = "--min-lr", defaultValue = "0", paramLabel = "LR",
      description = "Lower bound of reduce-on-plateau (default: ${DEFAULT-VALUE}).")
  private double minLearningRate;

  @Option(names = "--max-grad-norm", defaultValue = "1.0", paramLabel = "NORM",
      description = "Clip the gradient's global norm; 0 is off (default: ${DEFAULT-VALUE}).")
  private double maxGradNorm;

  @Option(names = "--steps", paramLabel = "N", description = "Optimiser steps.")
  private Integer steps;

  @Option(names = "--epochs", paramLabel = "E",
      description = "Passes over the training pairs, instead of --steps (default: 1 when --steps is not given).")
  private Double epochs;

  @Option(names = "--eval-every", defaultValue = "0", paramLabel = "STEPS",
      description = "Validation interval; 0 evaluates only after the last step (default: ${DEFAULT-VALUE}).")
  private int evalInterval;

  @Option(names = "--eval-batch-size", defaultValue = "16", paramLabel = "PAIRS",
      description = "Pairs per forward pass when scoring and evaluating (default: ${DEFAULT-VALUE}).")
  private int evalBatchSize;

  @Option(names = "--checkpoint-every", defaultValue = "0", paramLabel = "STEPS",
      description = "Checkpoint interval; the last step is always checkpointed (default: ${DEFAULT-VALUE}).")
  private int checkpointInterval;

  @Option(names = "--keep-checkpoints", defaultValue = "2", paramLabel = "N",
      description = "Newest checkpoints kept (default: ${DEFAULT-VALUE}).")
  private int keepCheckpoints;

  @Option(names = "--seed", defaultValue = "0",
      description = "Seed of batch order, adapters, dropout and built-in model weights (default: ${DEFAULT-VALUE}).")
  private long seed;

  @Option(names = "--out", paramLabel = "DIR", description = "Run folder (default: runs/train-<timestamp>).")
  private Path out;

  @Option(names = "--resume",
      description = "Continue the run in --out from its newest checkpoint with its saved settings (only --threads "
          + "and --no-progress may be given besides); on CPU the continued run is bit-identical to an "
          + "uninterrupted one.")
  private boolean resume;

  @Option(names = "--no-progress", description = "No progress bars.")
  private boolean noProgress;

  @Mixin
  private DistOptions dist;

  @Override
  public Integer call() throws IOException, InterruptedException {
    PrintWriter err = spec.commandLine().getErr();
    dist.validate();
    // Before any worker starts or joins: a GPU run on a machine that cannot run CUDA fails once, saying why.
    ModelSource.checkDevice(modelOptions.device);
    WorkerEnv worker = WorkerEnv.from(System.getenv());
    if (resume && out == null) {
      throw new IllegalArgumentException("--resume needs --out: the run folder to continue");
    }
    if (resume && !Files.isRegularFile(out.resolve(TrainConfig.FILE))) {
      throw new IllegalArgumentException("--resume: " + out + " holds no run (" + TrainConfig.FILE
          + " is missing; a run writes it once its reference log-probs are ready): start it without --resume");
    }
    if (worker == null && dist.worldSize() > 1) {
      return launch(err);
    }
    Main.warnIfOpenMpSpins(err);
    Main.warnIfOversubscribed(modelOptions.threads, err);
    worldSize = worker == null ? 1 : worker.worldSize();
    if (worker != null) {
      LauncherWatch.start(System.getenv(LauncherWatch.LAUNCHER_PID), worker.rank(), err);
    }
    Path runDir = out != null ? out
        : Path.of("runs", "train-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
    if (worker != null && out == null) {
      throw new IllegalArgumentException("a data-parallel run needs --out: every rank must name the same folder");
    }
    if (Files.exists(runDir) && !Files.isDirectory(runDir)) {
      throw new IllegalArgumentException("--out " + runDir + " is a file, not a folder: choose a folder for the run");
    }
    boolean main = worker == null || worker.rank() == 0;
    if (main && !resume && !Files.exists(runDir.resolve(TrainConfig.FILE))) {
      OutputFolder.requireOwnOrEmpty(runDir, RunFolder::isWrittenBeforeConfig, "grpo4j run");
    }
    // Rank 0 alone writes the run folder and holds its lock; the other ranks only read from it.
    try (FolderLock lock = main ? FolderLock.acquire(runDir, "--out " + runDir) : null;
         DataParallel dp = worker == null ? DataParallel.single()
             : DataParallel.of(Collectives.connect(worker, Duration.ofSeconds(dist.timeoutSeconds),
                 "cuda".equals(modelOptions.device)))) {
      if (lock != null && !lock.previousOwner().isEmpty()) {
        err.println("grpo4j train: note: the previous process on " + runDir + " (" + lock.previousOwner()
            + ") ended without releasing it; taking over");
      }
      TrainConfig config;
      if (resume) {
        List<String> extra = spec.commandLine().getParseResult().matchedOptions().stream()
            .map(OptionSpec::longestName).filter(name -> !RESUMABLE_OPTIONS.contains(name)).toList();
        if (!extra.isEmpty()) {
          throw new IllegalArgumentException("--resume continues with the run's saved settings ("
              + runDir.resolve(TrainConfig.FILE) + "); drop " + extra);
        }
        config = TrainConfig.read(runDir);
      } else {
        if (main && Files.exists(runDir.resolve(TrainConfig.FILE))) {
          throw new IllegalArgumentException("--out " + runDir + " already holds a run: continue it with --resume, "
              + "or choose another folder");
        }
        config = config();
      }
      PrintWriter notes = main ? err : new PrintWriter(Writer.nullWriter());
      new TrainingRun(config, runDir, new TrainingRun.Options(modelOptions.threads, main && !noProgress, main,
          referenceCache.folder(), modelOptions.fusedHeadSettings()), spec.commandLine().getOut(), notes, dp)
          .run(resume);
      return 0;
    } catch (Stopped stopped) {
      err.println("grpo4j train: " + stopped.getMessage() + "; checkpoint written to " + stopped.checkpoint()
          + ". Continue with: grpo4j train --resume --out " + runDir);
      err.flush();
      return stopped.exitCode();
    }
  }

  TrainConfig config() throws IOException {
    modelOptions.requireModel();
    if (trainData == null) {
      throw new IllegalArgumentException("--train is required: the training pairs (a JSONL, JSON, CSV or Parquet "
          + "file)");
    }
    if (steps != null && epochs != null) {
      throw new IllegalArgumentException("--steps and --epochs both given: choose one");
    }
    int total;
    if (steps != null) {
      total = steps;
    } else {
      double passes = epochs == null ? 1 : epochs;
      if (!(passes > 0)) {
        throw new IllegalArgumentException("--epochs = " + passes + ": must be > 0");
      }
      long pairs = PairFiles.read("--train", trainData, pairOptions.readOptions(), new PrintWriter(Writer.nullWriter()))
          .records().size();
      total = (int) Math.max(1, Math.ceil(passes * pairs / ((double) batchSize * gradientAccumulation)));
    }
    PairEncoder.EncodeOptions lengths = pairOptions.encodeOptions(ModelSource.maxPositions(modelOptions.model));
    ModelSpec.LoraSettings lora = loraRank == null ? null : new ModelSpec.LoraSettings(loraRank,
        loraAlpha != null ? loraAlpha : 2.0 * loraRank, loraDropout, loraTargets != null ? loraTargets
        : ModelFamilies.of(ModelSource.config(modelOptions.model).modelType()).attentionProjections());
    // Absolute paths, so that --resume works from any working directory.
    return new TrainConfig(
        new ModelSpec(absolute(modelOptions.model), absolute(modelOptions.adapter), absolute(modelOptions.tokenizer),
            modelOptions.dtype, modelOptions.device, lora),
        new DataSpec(absolute(trainData), absolute(validationData), absolute(testData), pairOptions.skipBadLines,
            new DataSpec.PairReading(pairOptions.format, pairOptions.groupField, chatTemplatePath(),
                pairOptions.chatTemplateKwargs),
            lengths.maxPromptTokens(), lengths.maxTotalTokens(), pairOptions.appendEos),
        lossSpec(),
        new SftSpec(sftSteps, sftLearningRate),
        new OptimizerSpec(learningRate, weightDecay, warmupSteps, decay, plateauPatience, plateauFactor,
            minLearningRate, maxGradNorm, !decayNormsAndBiases),
        new LoopSpec(total, batchSize, gradientAccumulation, evalInterval, evalBatchSize, checkpointInterval,
            keepCheckpoints, seed, worldSize));
  }

  private LossSpec lossSpec() {
    LossTerms terms = lossOptions.terms();
    Method chosen = method == null && terms == null ? Method.GR_DPO : method;
    return new LossSpec(chosen, beta, eta, chi, adjustment, groupNormalization, labelSmoothing, ipoLengthNormalization,
        groupUpdate, terms, lossOptions.parameters());
  }

  /** {@code --chat-template} with a file made absolute for --resume; {@code chatml} stays as it is. */
  private String chatTemplatePath() {
    String template = pairOptions.chatTemplate;
    return template == null || template.equals(ModelSource.CHATML) ? template : absolute(Path.of(template));
  }

  /** The launcher: starts this machine's workers with the same command line and waits for them. */
  private int launch(PrintWriter err) throws IOException, InterruptedException {
    // What every worker would find wrong is said once, before any starts.
    if (resume) {
      TrainConfig.read(out).requireWorldSize(dist.worldSize());
    } else {
      LoopSpec.requireBatchSplits(batchSize, dist.worldSize());
    }
    int cores = Runtime.getRuntime().availableProcessors();
    int threads = Math.max(1, (modelOptions.threads != null ? modelOptions.threads : cores) / dist.nprocPerNode);
    err.println("grpo4j train: starting " + dist.nprocPerNode + " worker" + (dist.nprocPerNode == 1 ? "" : "s")
        + " (ranks " + dist.nodeRank * dist.nprocPerNode + ".." + ((dist.nodeRank + 1) * dist.nprocPerNode - 1)
        + " of " + dist.worldSize() + ", " + threads + " thread" + (threads == 1 ? "" : "s") + " each), rendezvous "
        + dist.masterAddr + ":" + dist.masterPort);
    err.flush();
    List<String> arguments = List.of(spec.root().commandLine().getParseResult().originalArgs().toArray(new String[0]));
    return Launcher.run(new Launcher.Plan(dist.nprocPerNode, dist.nnodes, dist.nodeRank, dist.masterAddr,
        dist.masterPort, threads), Main.class.getName(), arguments, spec.commandLine().getOut(), err);
  }

  private static String absolute(Path path) {
    return path == null ? null : path.toAbsolutePath().normalize().toString();
  }

  /** A folder argument made absolute; built-in names ({@code tiny-llama}, {@code bytes}) stay as they are. */
  private static String absolute(String folderOrName) {
    if (folderOrName == null || ModelSource.BUILT_IN.contains(folderOrName)
        || folderOrName.equals(ModelSource.BYTES)) {
      return folderOrName;
    }
    return absolute(Path.of(folderOrName));
  }

  /** Reads {@code --method} with the names users type ({@code gr-dpo}). */
  static final class MethodConverter implements picocli.CommandLine.ITypeConverter<Method> {
    @Override
    public Method convert(String value) {
      return Method.parse(value);
    }
  }

  static final class GroupUpdateConverter implements picocli.CommandLine.ITypeConverter<GroupUpdate> {
    @Override
    public GroupUpdate convert(String value) {
      return GroupUpdate.parse(value);
    }
  }
}
