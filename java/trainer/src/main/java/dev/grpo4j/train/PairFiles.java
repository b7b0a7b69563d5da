package dev.grpo4j.train;

import dev.grpo4j.text.PairEncoder;
import dev.grpo4j.text.PreferenceData;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/** Reading preference-pair files for the commands, with the reports a user should see about their content. */
public final class PairFiles {
  /** How many degenerate pairs a warning quotes. */
  private static final int EXAMPLES_SHOWN = 3;

  private PairFiles() {}

  /**
   * Reads a JSONL file of preference pairs, reporting skipped lines on {@code err}.
   *
   * @param option the option that named the file, for messages
   * @throws IllegalArgumentException if the file is missing or holds no pairs
   */
  public static PreferenceData.Loaded read(String option, Path file, boolean skipBadLines, PrintWriter err)
      throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(option + " " + file + ": no such file");
    }
    PreferenceData.Loaded loaded = PreferenceData.readJsonl(file, skipBadLines);
    if (loaded.skippedLines() > 0) {
      err.println("skipped " + loaded.skippedLines() + " malformed lines of " + file + ", e.g. "
          + loaded.firstProblems().getFirst());
    }
    if (loaded.records().isEmpty()) {
      throw new IllegalArgumentException(option + " " + file + " holds no preference pairs");
    }
    return loaded;
  }

  /**
   * Reports pairs whose chosen and rejected responses are the same tokens: their margin is always 0, so they add a
   * constant (log 2 for DPO) and no gradient. Warns with examples; with {@code refuseIfAll}, a split of nothing but
   * such pairs is an error.
   *
   * @param what the split, for the message, e.g. "train.jsonl"
   */
  public static void reportDegenerate(String what, PairEncoder.Encoded encoded, boolean refuseIfAll, PrintWriter err) {
    List<PairEncoder.Degenerate> degenerate = encoded.degenerate();
    if (degenerate.isEmpty()) {
      return;
    }
    String examples = degenerate.stream().limit(EXAMPLES_SHOWN).map(PairEncoder.Degenerate::toString)
        .collect(Collectors.joining("; "));
    if (refuseIfAll && degenerate.size() == encoded.pairs().size()) {
      throw new IllegalArgumentException(what + ": all " + degenerate.size() + " pairs have chosen and "
          + "rejected responses with the same tokens, so there is nothing to learn (e.g. " + examples + "); check "
          + "the data's chosen/rejected fields and that the tokenizer belongs to the model");
    }
    err.println("warning: " + what + ": " + degenerate.size() + " of " + encoded.pairs().size() + " pairs have chosen and rejected responses with the same tokens; their "
        + "margin is always 0 (e.g. " + examples + ")");
    err.flush();
  }
}
