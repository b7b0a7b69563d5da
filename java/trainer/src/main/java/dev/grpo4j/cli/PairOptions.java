package dev.grpo4j.cli;

import dev.grpo4j.text.PairEncoder;
import dev.grpo4j.text.PreferenceData;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import picocli.CommandLine.Option;

/** How preference records become token pairs: the reading and truncation options of score, eval and train. */
final class PairOptions {
  /** TRL's DPO defaults, lowered to what the model can take. */
  static final int DEFAULT_MAX_LENGTH = 1024;
  static final int DEFAULT_MAX_PROMPT_TOKENS = 512;
  /** How many degenerate pairs a warning quotes. */
  private static final int EXAMPLES_SHOWN = 3;

  @Option(names = "--max-prompt-tokens", paramLabel = "N",
      description = "When a pair is too long, its prompt is cut to its last N tokens first (default: "
          + DEFAULT_MAX_PROMPT_TOKENS + ", or half of --max-length if that is less).")
  Integer maxPromptTokens;

  @Option(names = "--max-length", paramLabel = "N",
      description = "Longest prompt + response in tokens; longer responses are cut at the end (default: "
          + DEFAULT_MAX_LENGTH + ", or the model's max_position_embeddings if that is less).")
  Integer maxLength;

  @Option(names = "--append-eos", description = "Append the tokenizer's end-of-sequence token to each response.")
  boolean appendEos;

  @Option(names = "--skip-bad-lines",
      description = "Skip malformed input lines (counted and reported) instead of stopping at the first.")
  boolean skipBadLines;

  /**
   * The lengths for a model that takes at most {@code maxPositions} tokens: the defaults shrink to fit it, values
   * given explicitly must fit.
   *
   * @throws IllegalArgumentException naming the option that does not fit
   */
  PairEncoder.EncodeOptions encodeOptions(int maxPositions) {
    int length = maxLength != null ? maxLength : Math.min(DEFAULT_MAX_LENGTH, maxPositions);
    if (length < 2) {
      throw new IllegalArgumentException("--max-length = " + length + ": must be >= 2 (a prompt token and a "
          + "response token)");
    }
    if (length > maxPositions) {
      throw new IllegalArgumentException("--max-length " + length + " exceeds the model's max_position_embeddings = "
          + maxPositions + ": lower --max-length (and --max-prompt-tokens below it) to at most " + maxPositions);
    }
    int prompt = maxPromptTokens != null ? maxPromptTokens : Math.min(DEFAULT_MAX_PROMPT_TOKENS, length / 2);
    if (prompt < 1 || prompt >= length) {
      throw new IllegalArgumentException("--max-prompt-tokens = " + prompt + ": must be >= 1 and below --max-length "
          + "(" + length + ") so that a truncated prompt leaves room for a response");
    }
    return new PairEncoder.EncodeOptions(prompt, length, appendEos);
  }

  /**
   * Reports pairs whose chosen and rejected responses are the same tokens: their margin is always 0, so they add a
   * constant (log 2 for DPO) and no gradient. Warns with examples; with {@code refuseIfAll}, a split of nothing but
   * such pairs is an error.
   *
   * @param what the split, for the message, e.g. "train.jsonl"
   */
  static void reportDegenerate(String what, PairEncoder.Encoded encoded, boolean refuseIfAll, PrintWriter err) {
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

  /**
   * Reads a JSONL file of preference pairs, reporting skipped lines on {@code err}.
   *
   * @param option the option that named the file, for messages
   * @throws IllegalArgumentException if the file is missing or holds no pairs
   */
  static PreferenceData.Loaded read(String option, Path file, boolean skipBadLines, PrintWriter err)
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
}
