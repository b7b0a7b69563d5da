package dev.grpo4j.cli;

import dev.grpo4j.io.FolderLock;
import dev.grpo4j.report.ComparisonReport;
import dev.grpo4j.train.DataSpec;
import dev.grpo4j.train.LoopSpec;
import dev.grpo4j.train.LossSpec;
import dev.grpo4j.train.Method;
import dev.grpo4j.train.ModelSpec;
import dev.grpo4j.train.OptimizerSpec;
import dev.grpo4j.train.SftSpec;
import dev.grpo4j.train.TrainConfig;
import dev.grpo4j.train.TrainingRun;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code grpo4j demo}: the paper's problem in well under a minute on a CPU, as two ordinary {@code train} runs. It
 * writes the {@link DemoData} set (four groups, 60/25/10/5 % of the training pairs, disagreeing on half of the
 * questions) as JSON Lines, trains plain DPO and GR-DPO on it with the same settings, seed and batches (each run's
 * SFT stage starts from the same built-in model and ends at the same weights), and compares them per group.
 *
 * <p>Folder: {@code data/} (the three splits), {@code dpo/} and {@code gr-dpo/} (complete run folders, as
 * {@code grpo4j train} writes them), and {@code report.md} with the comparison table and plots.
 */
@Command(name = "demo",
    sortOptions = false,
    description = {
        "Trains plain DPO and GR-DPO on a built-in synthetic data set of four labeller groups of very different "
            + "sizes that disagree on some questions, and compares their per-group and worst-group test loss "
            + "and reward accuracy. Each method is an ordinary train run in its own folder. CPU only; well under a "
            + "minute on two cores.",
        ""})
public final class DemoCommand implements Callable<Integer>, UsesLibTorch {
  /**
   * Pairs per training batch: the 5 % group has 3.2 pairs in an average batch, enough that its group loss is not
   * mostly noise (at 32 pairs GR-DPO's steps were dominated by that noise and it learned little).
   */
  static final int BATCH_PAIRS = 64;
  static final double SFT_LEARNING_RATE = 3e-3;
  static final double LEARNING_RATE = 3e-3;
  /** TRL's default DPO temperature. */
  static final double BETA = 0.1;
  /**
   * Weight step size: a group whose loss stays 0.25 above another's gains a factor e (2.7) of weight on it in 80
   * steps, well within a run of 300, while one noisy batch (a rare group's DATASET_FREQUENCY loss jumps between 0
   * and a few times its mean) moves the weights by a few percent.
   */
  static final double ETA = 0.05;
  /** Validation evaluations over a run: enough points for the worst-group curve. */
  private static final int EVALUATIONS = 10;
  private static final String MODEL = "tiny-llama";
  private static final List<Method> METHODS = List.of(Method.DPO, Method.GR_DPO);

  @Spec
  private CommandSpec spec;

  @Option(names = "--out", paramLabel = "DIR",
      description = "Output folder: data/, a run folder per method and report.md (default: runs/demo-<timestamp>).")
  private Path out;

  @Option(names = "--seed", defaultValue = "42",
      description = "Seed of the data, the model's initial weights and the batch order (default: ${DEFAULT-VALUE}).")
  private long seed;

  @Option(names = "--steps", defaultValue = "300",
      description = "Preference-optimisation steps per method, " + BATCH_PAIRS + " pairs each "
          + "(default: ${DEFAULT-VALUE}).")
  private int steps;

  @Option(names = "--sft-steps", defaultValue = "100",
      description = "Supervised fine-tuning steps on the chosen responses before preference optimisation; "
          + "the result is the reference model (default: ${DEFAULT-VALUE}).")
  private int sftSteps;

  @Option(names = "--threads", defaultValue = "0",
      description = "CPU threads for libtorch and the loss kernel; 0 uses every core (default: ${DEFAULT-VALUE}).")
  private int threads;

  @Option(names = "--no-progress", description = "No progress bars.")
  private boolean noProgress;

  @Override
  public Integer call() throws IOException {
    PrintWriter stdout = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    validate();
    Main.warnIfOpenMpSpins(err);
    Main.warnIfOversubscribed(threads, err);
    long started = System.nanoTime();
    Path dir = (out != null ? out
        : Path.of("runs", "demo-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"))))
        .toAbsolutePath().normalize();
    for (Method method : METHODS) {
      if (Files.exists(dir.resolve(method.cliName()).resolve(TrainConfig.FILE))) {
        throw new IllegalArgumentException("--out " + dir + " already holds a demo: choose another folder");
      }
    }

    DemoData data = DemoData.generate(seed);
    List<Path> files = data.writeJsonl(dir.resolve("data"));
    long[] groupSizes = data.trainGroupSizes();
    err.printf(Locale.ROOT, "data: %d questions (%d contested), %d training pairs %s, %d validation and %d test "
            + "pairs in %s%n", data.questions().size(), contested(data), data.train().size(),
        Arrays.toString(groupSizes), data.validation().size(), data.test().size(), dir.resolve("data"));

    List<ComparisonReport.Run> runs = new ArrayList<>();
    TrainingRun.Options options = new TrainingRun.Options(threads > 0 ? threads : null, !noProgress, false,
        dir.resolve("data").resolve(".reference-cache"), null);
    List<String> groups = null;
    for (Method method : METHODS) {
      Path runDir = dir.resolve(method.cliName());
      err.println(method.displayName() + ": " + runDir);
      try (FolderLock lock = FolderLock.acquire(runDir, "--out " + dir)) {
        TrainingRun.Result result = new TrainingRun(config(method, files), runDir, options, stdout, err).run(false);
        runs.add(new ComparisonReport.Run(method.displayName(), runDir, result.finalEvaluation(),
            result.groupWeights()));
        groups = result.groups();
      }
    }

    double seconds = (System.nanoTime() - started) / 1e9;
    Path report = ComparisonReport.write(dir, "grpo4j demo: DPO vs GR-DPO", intro(data), settings(data, seconds),
        groups, groupSizes, runs);
    stdout.println();
    stdout.println("Test split, per group. loss: mean DPO loss; acc: reward accuracy (share of pairs with a "
        + "positive margin); weight: GR-DPO's final group weight.");
    stdout.println();
    stdout.print(ComparisonReport.table(groups, groupSizes, runs));
    stdout.println();
    stdout.printf(Locale.ROOT, "Finished in %.1f s. Wrote %s (runs in %s and %s)%n", seconds, report,
        dir.resolve(Method.DPO.cliName()), dir.resolve(Method.GR_DPO.cliName()));
    stdout.flush();
    return 0;
  }

  private void validate() {
    if (steps < 1) {
      throw new ParameterException(spec.commandLine(), "--steps must be at least 1, got " + steps);
    }
    if (sftSteps < 0) {
      throw new ParameterException(spec.commandLine(), "--sft-steps must be 0 or more, got " + sftSteps);
    }
    if (threads < 0) {
      throw new ParameterException(spec.commandLine(), "--threads must be 0 (every core) or more, got " + threads);
    }
  }

  /**
   * The demo's settings as a {@code train} run: the same for both methods but the method, so that they start from
   * the same SFT weights and see the same batches. DATASET_FREQUENCY is the paper's LLM setting: an unbiased
   * estimate of each group's mean loss under uniform batches.
   */
  private TrainConfig config(Method method, List<Path> files) {
    return new TrainConfig(ModelSpec.of(MODEL),
        DataSpec.of(files.get(0).toString(), files.get(1).toString(), files.get(2).toString(), 64, 128),
        LossSpec.of(method).withBeta(BETA).withEta(ETA),
        new SftSpec(sftSteps, SFT_LEARNING_RATE),
        OptimizerSpec.adamW(LEARNING_RATE).withMaxGradNorm(0),
        LoopSpec.of(steps, BATCH_PAIRS, seed).withEvaluation(Math.max(1, steps / EVALUATIONS), 512)
            .withKeepCheckpoints(1));
  }

  private static long contested(DemoData data) {
    return data.questions().stream().filter(DemoData.Question::contested).count();
  }

  private static String intro(DemoData data) {
    return String.format(Locale.ROOT, """
        Group Robust Preference Optimization (Ramesh et al., NeurIPS 2024) against plain DPO on a synthetic data set
        where four labeller groups of very different sizes rank the same four answers to %d questions and disagree
        on %d of them. Both methods are ordinary `grpo4j train` runs with the same settings, seed and batches;
        only `--method` differs.""", data.questions().size(), contested(data));
  }

  private String settings(DemoData data, double seconds) {
    return String.format(Locale.ROOT, """
        - command: `grpo4j demo --seed %d --steps %d --sft-steps %d --threads %d`
        - data (`data/`): prompts name the group and the question (e.g. `%s`), answers %s; on a contested question
          each group ranks a different answer first. Training: %d pairs, %s per group, each comparing neighbours
          in the group's ranking. Validation: every neighbour comparison once per group and question (%d pairs).
          Test: %d pairs, for every group and question the comparisons of answers two or three places apart, whose
          order follows from the trained ones by transitivity.
        - model: built-in `%s` (byte tokens plus EOS, 2 layers, width 64), full fine-tuning with AdamW
        - SFT: %d steps of %d chosen responses, lr %s; the result is the frozen reference and both runs' start
        - DPO and GR-DPO: %d steps of %d pairs, lr %s constant, beta %s, no clipping, through the fused loss;
          GR-DPO with eta %s, DATASET_FREQUENCY group losses, chi 1; validation every %d steps
        - wall time: %.1f s
        """, seed, steps, sftSteps, threads, data.prompt(0, 0), DemoData.ANSWERS.stream().map(String::strip).toList(),
        data.train().size(), Arrays.toString(data.trainGroupSizes()), data.validation().size(), data.test().size(),
        MODEL, sftSteps, BATCH_PAIRS, SFT_LEARNING_RATE, steps, BATCH_PAIRS, LEARNING_RATE, BETA, ETA,
        Math.max(1, steps / EVALUATIONS), seconds);
  }
}
