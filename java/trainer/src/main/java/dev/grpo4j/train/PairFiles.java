package dev.grpo4j.train;

import dev.grpo4j.Weighting;
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
   * Reads a file of preference pairs, reporting skipped records on {@code err}.
   *
   * @param option the option that named the file, for messages
   * @throws IllegalArgumentException if the file is missing or holds no pairs
   */
  public static PreferenceData.Loaded read(String option, Path file, PreferenceData.ReadOptions options,
                                           PrintWriter err) throws IOException {
    if (Files.isDirectory(file)) {
      throw new IllegalArgumentException(option + " " + file + " is a folder: name the data file in it (JSONL, JSON, "
          + "CSV or Parquet)");
    }
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(option + " " + file + ": no such file");
    }
    PreferenceData.Loaded loaded = PreferenceData.read(file, options);
    if (loaded.skippedLines() > 0) {
      err.println("skipped " + loaded.skippedLines() + " malformed records of " + file + ", e.g. "
          + loaded.firstProblems().getFirst());
    }
    if (loaded.records().isEmpty()) {
      throw new IllegalArgumentException(option + " " + file + " holds no preference pairs");
    }
    return loaded;
  }

  /** Whether any of the files (null ones skipped) holds chat messages, so that a chat template is needed. */
  public static boolean anyConversational(PreferenceData.Loaded... files) {
    for (PreferenceData.Loaded f : files) {
      if (f != null && f.conversational()) {
        return true;
      }
    }
    return false;
  }

  /**
   * Warns when training data has no group labels but the method weights groups: with one group, GR-DPO and IS-DPO
   * are plain DPO (and likewise for IPO), which the user most likely did not mean.
   */
  public static void warnIfUngrouped(PreferenceData.Loaded train, String groupField, LossSpec loss, PrintWriter err) {
    if (!train.grouped() && loss.weighting() != Weighting.AVERAGE) {
      String plain = loss.method() != null ? loss.method().lossType().toString()
          : "the average of " + String.join(",", loss.losses().names());
      err.println("warning: the training data has no \"" + groupField + "\" field, so all pairs are one group and "
          + loss.label() + " is plain " + plain + "; pass --group-field NAME if the group labels are in another field");
      err.flush();
    }
  }

  /** Says how many conversational pairs had to be split in the text rather than at the prompt's tokens. */
  public static void reportTextSplits(String what, PairEncoder.Encoded encoded, PrintWriter err) {
    if (encoded.textSplits() > 0) {
      err.println("note: " + what + ": in " + encoded.textSplits() + " of " + encoded.pairs().size() + " pairs the "
          + "rendered prompt's tokens are not a prefix of the rendered conversation's, so prompt and responses were "
          + "split in the text (as TRL's apply_chat_template does) and tokenised separately");
      err.flush();
    }
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
    err.println("warning: " + what + ": " + degenerate.size() + " of " + encoded.pairs().size() + " pairs have "
        + "chosen and rejected responses with the same tokens; their margin is always 0 (e.g. " + examples + ")");
    err.flush();
  }
}
