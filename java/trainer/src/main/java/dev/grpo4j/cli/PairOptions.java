package dev.grpo4j.cli;

import dev.grpo4j.text.PairEncoder;
import dev.grpo4j.text.PreferenceData;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** How preference records become token pairs: the reading and truncation options of score, eval and train. */
final class PairOptions {
  @Option(names = "--max-prompt-tokens", defaultValue = "512", paramLabel = "N",
      description = "When a pair is too long, its prompt is cut to its last N tokens first (default: "
          + "${DEFAULT-VALUE}).")
  int maxPromptTokens;

  @Option(names = "--max-length", defaultValue = "1024", paramLabel = "N",
      description = "Longest prompt + response in tokens; longer responses are cut at the end (default: "
          + "${DEFAULT-VALUE}).")
  int maxLength;

  @Option(names = "--append-eos", description = "Append the tokenizer's end-of-sequence token to each response.")
  boolean appendEos;

  @Option(names = "--skip-bad-lines",
      description = "Skip malformed input lines (counted and reported) instead of stopping at the first.")
  boolean skipBadLines;

  PairEncoder.EncodeOptions encodeOptions() {
    return new PairEncoder.EncodeOptions(maxPromptTokens, maxLength, appendEos);
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
