package dev.grpo4j.cli;

import dev.grpo4j.GroupNormalization;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.Weighting;
import dev.grpo4j.dist.DataParallel;
import dev.grpo4j.io.AtomicFiles;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.report.EvalMetrics;
import dev.grpo4j.report.RunReport;
import dev.grpo4j.text.GroupIndex;
import dev.grpo4j.text.PairEncoder;
import dev.grpo4j.text.PreferenceData;
import dev.grpo4j.torch.EncodedPairs;
import dev.grpo4j.torch.PreferenceObjective;
import dev.grpo4j.torch.SequenceScorer;
import dev.grpo4j.torch.TorchPreferenceLoss;
import dev.grpo4j.train.LossSpec;
import dev.grpo4j.train.LossTerms;
import dev.grpo4j.train.Method;
import dev.grpo4j.train.ModelSource;
import dev.grpo4j.train.PairFiles;
import dev.grpo4j.train.ReferenceLogProbs;
import dev.grpo4j.train.SplitEvaluation;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code grpo4j eval}: the per-group preference metrics of a policy (a model folder, a built-in model, or a base
 * model plus LoRA adapters, e.g. a {@code train} checkpoint) against a reference model on one data set.
 */
@Command(name = "eval",
    sortOptions = false,
    description = {
        "Evaluates a policy on preference pairs per labeller group: mean loss, reward accuracy (implicit reward "
            + "margin > 0), log-prob accuracy (chosen more likely than rejected), mean margin, and the worst group, "
            + "average and loss imbalance. The reference is --reference, or, for a policy given as --model plus "
            + "--adapter, the model without the adapter. Prints a table; --out writes the eval.jsonl record.",
        ""})
public final class EvalCommand implements Callable<Integer>, UsesLibTorch {
  @Spec
  private CommandSpec spec;

  @Mixin
  private ModelOptions modelOptions;

  @Mixin
  private ReferenceCacheOption referenceCache;

  @Mixin
  private PairOptions pairOptions;

  @Option(names = "--reference", paramLabel = "DIR|NAME",
      description = "Reference model (folder or built-in name, same tokenizer); default with --adapter: --model "
          + "without the adapter.")
  private String reference;

  @Option(names = "--data", required = true, paramLabel = "FILE",
      description = "Preference pairs (JSONL, JSON, CSV or Parquet): prompt (or none), chosen, rejected as text or "
          + "messages, and a group label.")
  private Path data;

  @Option(names = "--method", paramLabel = "NAME", converter = TrainCommand.MethodConverter.class,
      description = "Whose loss to report: the DPO or IPO loss of the method (default: dpo, unless --loss names the "
          + "losses).")
  private Method method;

  @Mixin
  private LossOptions lossOptions;

  @Option(names = "--beta", defaultValue = "0.1", description = "Inverse temperature beta (default: ${DEFAULT-VALUE}).")
  private double beta;

  @Option(names = "--label-smoothing", defaultValue = "0", paramLabel = "EPS",
      description = "Label smoothing of the losses that read it (default: ${DEFAULT-VALUE}).")
  private double labelSmoothing;

  @Option(names = "--ipo-length-normalization", description = "IPO: divide the margin by the response lengths.")
  private boolean ipoLengthNormalization;

  @Option(names = "--batch-size", defaultValue = "16", paramLabel = "PAIRS",
      description = "Pairs per forward pass (default: ${DEFAULT-VALUE}).")
  private int batchSize;

  @Option(names = "--seed", defaultValue = "0",
      description = "Seed of built-in models' random weights (default: ${DEFAULT-VALUE}).")
  private long seed;

  @Option(names = "--out", paramLabel = "FILE", description = "Also write the result as one eval.jsonl line here "
      + "(a new file: an existing one is refused unless --overwrite).")
  private Path out;

  @Option(names = "--overwrite", description = "Replace an existing --out file, atomically.")
  private boolean overwrite;

  @Override
  public Integer call() throws IOException {
    PrintWriter err = spec.commandLine().getErr();
    Main.warnIfOpenMpSpins(err);
    Main.warnIfOversubscribed(modelOptions.threads, err);
    if (out != null && Files.exists(out) && (Files.isDirectory(out) || !overwrite)) {
      throw new IllegalArgumentException("--out " + out + (Files.isDirectory(out) ? " is a folder; name the file to "
          + "write" : " already exists; choose a new file, or pass --overwrite to replace it"));
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException("--batch-size = " + batchSize + ": must be >= 1");
    }
    LossTerms terms = lossOptions.terms();
    // Evaluation reports the plain per-group losses: the weighting and group updates play no part.
    LossSpec lossSpec = new LossSpec(method == null && terms == null ? Method.DPO : method, beta, 0, 1, 0,
        GroupNormalization.BATCH_MEAN, labelSmoothing, ipoLengthNormalization, null, terms, lossOptions.parameters());
    if (reference == null && modelOptions.adapter == null && lossSpec.usesReference()) {
      throw new IllegalArgumentException("no reference model: pass --reference DIR|NAME (e.g. the SFT model the "
          + "policy was trained from), or give the policy as --model BASE --adapter DIR");
    }
    PreferenceData.Loaded loaded = PairFiles.read("--data", data, pairOptions.readOptions(), err);
    GroupIndex groups = GroupIndex.of(loaded.records());
    try (ModelOptions.Loaded policy = modelOptions.load(seed, err)) {
      PairEncoder.Encoded encoded = pairOptions.encoder(loaded, modelOptions, policy.tokenizer(), groups,
          policy.model().config().maxPositions()).encode(loaded.records());
      PairFiles.reportDegenerate(data.getFileName().toString(), encoded, false, err);
      PairFiles.reportTextSplits(data.getFileName().toString(), encoded, err);
      SequenceScorer.Scores scores = lossSpec.usesReference() ? referenceScores(policy, encoded, err)
          : SequenceScorer.Scores.zeros(encoded.pairs().size());
      EncodedPairs pairs = EncodedPairs.encode(encoded.pairs()).withReference(scores.chosen(), scores.rejected());
      EvalMetrics result;
      try (GroupRobustLoss loss = lossSpec.lossBuilder()
          .weighting(Weighting.AVERAGE).groupNormalization(GroupNormalization.BATCH_MEAN).groups(groups.size())
          .backend(policy.backend()).build()) {
        result = SplitEvaluation.of(0, EvalMetrics.Split.TEST, groups.names(),
            PreferenceObjective.of(new TorchPreferenceLoss(loss),
                modelOptions.fusedHead(policy.model(), policy.backend()))
                .evaluatePairs(policy.model(), pairs, 0, pairs.size(), batchSize));
      }
      PrintWriter stdout = spec.commandLine().getOut();
      String lossName = lossSpec.method() != null ? lossSpec.method().lossType().toString()
          : String.join(",", lossSpec.losses().names());
      stdout.println(data + " (" + encoded.pairs().size() + " pairs), " + lossName + " loss, beta " + beta + ":");
      stdout.println();
      stdout.print(RunReport.groupTable(result, groups.names(), null));
      stdout.flush();
      if (out != null) {
        Path target = out.toAbsolutePath();
        Files.createDirectories(target.getParent());
        AtomicFiles.write(target, s -> s.write((result.toJson() + "\n").getBytes(StandardCharsets.UTF_8)));
        err.println("wrote " + target);
      }
    }
    return 0;
  }

  /** Reference log-probs: the reference model's, or the policy's with its adapters switched off; cached. */
  private SequenceScorer.Scores referenceScores(ModelOptions.Loaded policy, PairEncoder.Encoded encoded,
                                                PrintWriter err) {
    TransformerLm model;
    if (reference == null) {
      model = policy.model();
      model.setAdaptersEnabled(false);
    } else {
      ModelSource.Placement placement = ModelSource.placement(modelOptions.device, modelOptions.dtype, null);
      model = ModelSource.model(reference, placement.dtype(), seed);
      PairEncoder.requireVocabFits(policy.tokenizer(), model.config().vocabSize());
      long policyVocab = policy.model().config().vocabSize();
      if (model.config().vocabSize() != policyVocab) {
        throw new IllegalArgumentException("--reference " + reference + " has a vocabulary of "
            + model.config().vocabSize() + " tokens but --model " + modelOptions.model + " has " + policyVocab
            + ": the reference must be the model the policy was trained from (same tokenizer and vocabulary)");
      }
      placement.moveTo(model);
      model.eval();
    }
    try {
      return ReferenceLogProbs.scoreCached(new SequenceScorer(model, policy.backend(), policy.device(),
              modelOptions.fusedHead(model, policy.backend())),
          referenceCache.folder(), data,
          ReferenceLogProbs.modelHash(model), encoded.pairs(), batchSize, DataParallel.single(), done -> { },
          err::println);
    } finally {
      policy.model().setAdaptersEnabled(true);
    }
  }
}
