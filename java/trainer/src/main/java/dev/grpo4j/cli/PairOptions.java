package dev.grpo4j.cli;

import dev.grpo4j.text.PairEncoder;
import picocli.CommandLine.Option;

/** How preference records become token pairs: the reading and truncation options of score, eval and train. */
final class PairOptions {
  /** TRL's DPO defaults, lowered to what the model can take. */
  static final int DEFAULT_MAX_LENGTH = 1024;
  static final int DEFAULT_MAX_PROMPT_TOKENS = 512;

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

}
