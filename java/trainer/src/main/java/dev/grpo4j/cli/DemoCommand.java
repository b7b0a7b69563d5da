package dev.grpo4j.cli;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupNormalization;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LossResult;
import dev.grpo4j.LossType;
import dev.grpo4j.Weighting;
import dev.grpo4j.report.EvalMetrics;
import dev.grpo4j.torch.ByteLm;
import dev.grpo4j.torch.EncodedPairs;
import dev.grpo4j.torch.PreferenceTrainer;
import dev.grpo4j.torch.TokenPair;
import dev.grpo4j.torch.TorchPreferenceLoss;
import dev.grpo4j.train.SplitEvaluation;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code grpo4j demo}: the paper's problem in well under a minute on a CPU. Generates the {@link DemoData} set (four
 * groups, 60/25/10/5 % of the training pairs, disagreeing on half of the questions), fine-tunes a tiny byte-level
 * transformer on the chosen responses, freezes it as the reference, then trains plain DPO and GR-DPO from those
 * same weights with the same batches and budget through the fused loss, and compares them per group on the test
 * split.
 *
 * <p>Writes {@code report.md} (the table and the settings) and {@code metrics.jsonl} (one line per training step)
 * into the output folder; prints progress on stderr and the table on stdout.
 */
@Command(name = "demo",
    sortOptions = false,
    description = {
        "Trains plain DPO and GR-DPO on a built-in synthetic data set of four labeller groups of very different "
            + "sizes that disagree on some questions, and compares their per-group and worst-group test loss "
            + "and reward accuracy. CPU only; well under a minute on two cores.",
        ""})
public final class DemoCommand implements Callable<Integer>, UsesLibTorch {
  /** Pairs per training batch: the 5 % group is in most batches (1.6 pairs on average) without dominating any. */
  static final int BATCH_PAIRS = 32;
  /** Model width of the tiny transformer: about 70k parameters, a step takes milliseconds on a CPU. */
  static final int WIDTH = 64;
  /** Adam-style rate for a model this small; 1e-3 learns the same way but needs about twice the steps. */
  static final double SFT_LEARNING_RATE = 3e-3;
  static final double LEARNING_RATE = 3e-3;
  /** TRL's default DPO temperature. */
  static final double BETA = 0.1;
  /**
   * Weight step size: a group whose loss stays 0.25 above another's gains a factor e (2.7) of weight on it in 80
   * steps, well within a run, while one noisy batch (a rare group's DATASET_FREQUENCY loss jumps between 0 and a
   * few times its mean) moves the weights by a few percent.
   */
  static final double ETA = 0.05;
  private static final int EVAL_CHUNK_PAIRS = 256;

  /** A method of the comparison: plain DPO and its group-robust form differ only in the weighting. */
  private record Method(String name, Weighting weighting) {}

  private static final List<Method> METHODS = List.of(new Method("DPO", Weighting.AVERAGE),
      new Method("GR-DPO", Weighting.ROBUST));

  @Spec
  private CommandSpec spec;

  @Option(names = "--out", paramLabel = "DIR",
      description = "Output folder for report.md and metrics.jsonl (default: runs/demo-<timestamp>).")
  private Path out;

  @Option(names = "--seed", defaultValue = "42",
      description = "Seed of the data, the model's initial weights and the batch order (default: ${DEFAULT-VALUE}).")
  private long seed;

  @Option(names = "--steps", defaultValue = "600",
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

  @Override
  public Integer call() throws IOException {
    PrintWriter stdout = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    validate();
    Main.warnIfOpenMpSpins(err);
    Main.warnIfOversubscribed(threads, err);
    long started = System.nanoTime();
    Path dir = out != null ? out
        : Path.of("runs", "demo-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
    Files.createDirectories(dir);
    if (threads > 0) {
      torch.set_num_threads(threads);
    }

    DemoData data = DemoData.generate(seed);
    long[] groupSizes = data.trainGroupSizes();
    EncodedPairs train = EncodedPairs.encode(tokens(data.train()));
    EncodedPairs test = EncodedPairs.encode(tokens(data.test()), train.seqLen());
    err.printf(Locale.ROOT, "data: %d questions (%d contested), %d training pairs %s, %d test pairs%n",
        data.questions().size(), data.questions().stream().filter(DemoData.Question::contested).count(),
        data.train().size(), Arrays.toString(groupSizes), data.test().size());

    torch.manual_seed(seed);
    ByteLm reference = new ByteLm(train.seqLen(), WIDTH);
    supervisedFineTuning(reference, train, err);

    List<DemoReport.MethodResult> results = new ArrayList<>();
    try (MetricsLog metrics = new MetricsLog(dir.resolve("metrics.jsonl"))) {
      try (GroupRobustLoss referenceLoss = loss(Weighting.AVERAGE, groupSizes)) {
        TorchPreferenceLoss adapter = new TorchPreferenceLoss(referenceLoss);
        train = PreferenceTrainer.withReference(reference, train, adapter, EVAL_CHUNK_PAIRS);
        test = PreferenceTrainer.withReference(reference, test, adapter, EVAL_CHUNK_PAIRS);
      }
      for (Method method : METHODS) {
        results.add(train(method, reference, train, test, groupSizes, metrics, err));
      }
    }

    double seconds = (System.nanoTime() - started) / 1e9;
    String table = DemoReport.table(groupSizes, results);
    stdout.println();
    stdout.println("Test split, per group. loss: mean DPO loss; acc: reward accuracy (share of pairs with a "
        + "positive margin); weight: GR-DPO's final group weight.");
    stdout.println();
    stdout.print(table);
    stdout.println();
    stdout.printf(Locale.ROOT, "Finished in %.1f s. Wrote %s and %s%n", seconds, dir.resolve("report.md"),
        dir.resolve("metrics.jsonl"));
    stdout.flush();
    Files.writeString(dir.resolve("report.md"), report(data, table, seconds), StandardCharsets.UTF_8);
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

  private void supervisedFineTuning(ByteLm model, EncodedPairs train, PrintWriter err) {
    if (sftSteps == 0) {
      return;
    }
    AdamW optimizer = new AdamW(model.parameters(), new AdamWOptions(SFT_LEARNING_RATE));
    Random batches = new Random(seed);
    Progress progress = new Progress(err, "SFT", sftSteps);
    for (int step = 1; step <= sftSteps; step++) {
      double nll = PreferenceTrainer.supervisedStep(model, optimizer, train, sample(batches, train.size()));
      progress.step(step, nll, null);
    }
  }

  private DemoReport.MethodResult train(Method method, ByteLm reference, EncodedPairs train, EncodedPairs test,
                                        long[] groupSizes, MetricsLog metrics, PrintWriter err) {
    ByteLm policy = new ByteLm(train.seqLen(), WIDTH);
    policy.copyWeightsFrom(reference);
    AdamW optimizer = new AdamW(policy.parameters(), new AdamWOptions(LEARNING_RATE));
    try (GroupRobustLoss loss = loss(method.weighting(), groupSizes)) {
      PreferenceTrainer trainer = new PreferenceTrainer(policy, optimizer, new TorchPreferenceLoss(loss));
      // Seeded alike for every method: each sees the same batches in the same order.
      Random batches = new Random(seed + 1);
      Progress progress = new Progress(err, method.name(), steps);
      for (int step = 1; step <= steps; step++) {
        LossResult r = trainer.step(train, sample(batches, train.size()));
        metrics.write(MetricsLog.Step.of(step, method.name(), r));
        progress.step(step, r.loss(), method.weighting() == Weighting.ROBUST ? loss.groupWeights() : null);
      }
      List<String> groups = new ArrayList<>();
      for (int g = 0; g < groupSizes.length; g++) {
        groups.add(DemoData.groupName(g));
      }
      EvalMetrics evaluation = SplitEvaluation.of(steps, EvalMetrics.Split.TEST, groups,
          trainer.evaluatePairs(test, EVAL_CHUNK_PAIRS));
      return new DemoReport.MethodResult(method.name(), evaluation,
          method.weighting() == Weighting.ROBUST ? loss.groupWeights() : null);
    }
  }

  private GroupRobustLoss loss(Weighting weighting, long[] groupSizes) {
    return GroupRobustLoss.builder()
        .lossType(LossType.DPO)
        .beta(BETA)
        .weighting(weighting)
        .eta(ETA)
        // The paper's LLM code: an unbiased estimate of each group's mean loss under uniform batches.
        .groupNormalization(GroupNormalization.DATASET_FREQUENCY)
        .groupSizes(groupSizes)
        .backend(Backend.CPU)
        .threads(threads)
        .build();
  }

  private static int[] sample(Random rng, int size) {
    int[] pairs = new int[BATCH_PAIRS];
    for (int i = 0; i < pairs.length; i++) {
      pairs[i] = rng.nextInt(size);
    }
    return pairs;
  }

  private static List<TokenPair> tokens(List<DemoData.Pair> pairs) {
    List<TokenPair> out = new ArrayList<>(pairs.size());
    for (DemoData.Pair p : pairs) {
      out.add(TokenPair.ofBytes(p.group(), p.prompt().getBytes(StandardCharsets.US_ASCII),
          p.chosen().getBytes(StandardCharsets.US_ASCII), p.rejected().getBytes(StandardCharsets.US_ASCII)));
    }
    return out;
  }

  private String report(DemoData data, String table, double seconds) {
    long contested = data.questions().stream().filter(DemoData.Question::contested).count();
    return String.format(Locale.ROOT, """
        # grpo4j demo: DPO vs GR-DPO

        Group Robust Preference Optimization (Ramesh et al., NeurIPS 2024) against plain DPO on a synthetic data
        set where four labeller groups of very different sizes rank the same four answers to %d questions and
        disagree on %d of them.

        ## Test split, per group

        `loss`: mean DPO loss of the group's test pairs; `acc`: reward accuracy, the share of pairs whose implicit
        reward margin is positive; `weight`: GR-DPO's group weight at the end of training. Worst group: the highest
        loss and the lowest accuracy over the groups; loss imbalance: highest minus lowest group loss.

        %s
        ## Settings

        - command: `grpo4j demo --seed %d --steps %d --sft-steps %d --threads %d`
        - data: prompts name the group and the question (e.g. `%s`), answers %s; on a contested question each
          group ranks a different answer first. Training: %d pairs, %s per group, each comparing neighbours in
          the group's ranking. Test: %d pairs, for every group and question the comparisons of answers two or
          three places apart, whose order follows from the trained ones by transitivity.
        - model: byte-level causal transformer (one attention + MLP block, width %d), AdamW
        - SFT: %d steps of %d chosen responses, lr %s; the result is the frozen reference model and the
          starting point of both methods
        - DPO and GR-DPO: %d steps of %d pairs each, the same batches in the same order, lr %s, beta %s, through
          the fused loss; GR-DPO with eta %s, DATASET_FREQUENCY group losses, chi 1
        - wall time: %.1f s
        """,
        data.questions().size(), contested, table, seed, steps, sftSteps, threads,
        data.prompt(0, 0), DemoData.ANSWERS.stream().map(String::strip).toList(),
        data.train().size(), Arrays.toString(data.trainGroupSizes()), data.test().size(), WIDTH, sftSteps,
        BATCH_PAIRS, SFT_LEARNING_RATE, steps, BATCH_PAIRS, LEARNING_RATE, BETA, ETA, seconds);
  }

  /** Periodic progress lines: about ten per stage, each with the mean objective since the previous line. */
  private static final class Progress {
    private final PrintWriter err;
    private final String name;
    private final int total;
    private final int every;
    private final long started = System.nanoTime();
    private double sum;
    private int count;

    Progress(PrintWriter err, String name, int total) {
      this.err = err;
      this.name = name;
      this.total = total;
      this.every = Math.max(1, total / 10);
    }

    void step(int step, double loss, double[] weights) {
      sum += loss;
      count++;
      if (step % every != 0 && step != total) {
        return;
      }
      StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-7s step %4d/%d  loss %.4f", name, step,
          total, sum / count));
      if (weights != null) {
        line.append("  weights");
        for (double w : weights) {
          line.append(String.format(Locale.ROOT, " %.3f", w));
        }
      }
      line.append(String.format(Locale.ROOT, "  %.1f s", (System.nanoTime() - started) / 1e9));
      err.println(line);
      err.flush();
      sum = 0;
      count = 0;
    }
  }
}
