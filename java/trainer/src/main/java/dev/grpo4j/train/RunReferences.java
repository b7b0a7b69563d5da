package dev.grpo4j.train;

import dev.grpo4j.dist.DataParallel;
import dev.grpo4j.io.RunFolder;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.torch.EncodedPairs;
import dev.grpo4j.torch.SequenceScorer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.IntConsumer;
import me.tongfei.progressbar.ProgressBar;

/**
 * A run's reference log-probs: scored once from the policy as it is at the start (after SFT, adapters off), through
 * the cache and the sharding of {@link ReferenceLogProbs#scoreCached}, and kept in the run folder
 * ({@link RunFolder#referenceLogProbs}) so that a resume reads them back without the reference model.
 */
final class RunReferences {
  private final RunFolder folder;
  private final DataParallel dp;
  private final Path cache;
  private final int chunkPairs;
  private final boolean progressBar;
  private final boolean needed;
  private final PrintWriter err;

  /**
   * @param cache the cache folder across runs, or null for none
   * @param chunkPairs pairs per scoring chunk ({@code --eval-batch-size}, as evaluation forms its chunks)
   * @param needed false for a reference-free loss: every reference log-prob is then 0 and nothing is scored
   */
  RunReferences(RunFolder folder, DataParallel dp, Path cache, int chunkPairs, boolean progressBar, boolean needed,
                PrintWriter err) {
    this.needed = needed;
    this.folder = folder;
    this.dp = dp;
    this.cache = cache;
    this.chunkPairs = chunkPairs;
    this.progressBar = progressBar;
    this.err = err;
  }

  /**
   * {@code split}'s rows with the reference log-probs of {@code policy} with its adapters off, whose
   * {@link ReferenceLogProbs#modelHash} is {@code referenceHash}; a null split gives null.
   */
  EncodedPairs score(TransformerLm policy, SequenceScorer scorer, String referenceHash, RunData.Split split)
      throws IOException {
    if (split == null || !needed) {
      return unscored(split);
    }
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
      scores = ReferenceLogProbs.scoreCached(scorer, cache, split.file(), referenceHash, split.pairs(), chunkPairs,
          dp, progress, err::println);
    } finally {
      policy.setAdaptersEnabled(adapters);
    }
    if (dp.isMain()) {
      Path file = folder.referenceLogProbs(split.name());
      Files.createDirectories(file.getParent());
      ReferenceLogProbs.write(file, scores);
    }
    return split.rows().withReference(scores.chosen(), scores.rejected());
  }

  private static EncodedPairs unscored(RunData.Split split) {
    if (split == null) {
      return null;
    }
    SequenceScorer.Scores zeros = SequenceScorer.Scores.zeros(split.pairs().size());
    return split.rows().withReference(zeros.chosen(), zeros.rejected());
  }

  /** {@code split}'s rows with the reference log-probs the run folder kept; a null split gives null. */
  EncodedPairs saved(RunData.Split split) {
    if (split == null || !needed) {
      return unscored(split);
    }
    Path file = folder.referenceLogProbs(split.name());
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("cannot resume: " + file + " is missing (the reference log-probs of the "
          + split.name() + " split); start a new run");
    }
    SequenceScorer.Scores scores = ReferenceLogProbs.read(file, split.pairs().size());
    return split.rows().withReference(scores.chosen(), scores.rejected());
  }
}
