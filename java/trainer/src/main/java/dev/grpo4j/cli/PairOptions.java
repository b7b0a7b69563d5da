package dev.grpo4j.cli;

import dev.grpo4j.chat.ChatTemplate;
import dev.grpo4j.data.DataFormat;
import dev.grpo4j.text.GroupIndex;
import dev.grpo4j.text.PairEncoder;
import dev.grpo4j.text.PreferenceData;
import dev.grpo4j.text.TextTokenizer;
import dev.grpo4j.train.ModelSource;
import picocli.CommandLine.Option;

/**
 * How preference records are read and become token pairs: the data, template and truncation options of score, eval
 * and train.
 */
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
      description = "Skip malformed records (counted and reported) instead of stopping at the first.")
  boolean skipBadLines;

  @Option(names = "--format", paramLabel = "jsonl|json|csv|parquet",
      description = "Format of the data files (default: from each file's extension).")
  String format;

  @Option(names = "--group-field", paramLabel = "NAME", defaultValue = PreferenceData.DEFAULT_GROUP_FIELD,
      description = "The field holding each record's group label (default: ${DEFAULT-VALUE}). A file without it "
          + "is one group.")
  String groupField;

  @Option(names = "--chat-template", paramLabel = "FILE|" + ModelSource.CHATML,
      description = "Chat template for conversational data: a Jinja file, or " + ModelSource.CHATML
          + " for the generic ChatML format (default: the model folder's chat_template.jinja or the chat_template "
          + "of its tokenizer_config.json).")
  String chatTemplate;

  @Option(names = "--chat-template-kwargs", paramLabel = "JSON",
      description = "More chat template variables, as a JSON object: transformers' apply_chat_template keyword "
          + "arguments, e.g. '{\"enable_thinking\": false}' for Qwen3.")
  String chatTemplateKwargs;

  /**
   * The encoder for {@code data}: with the chat template of {@code --chat-template} or the model's when the data is
   * conversational.
   */
  PairEncoder encoder(PreferenceData.Loaded data, ModelOptions model, TextTokenizer tokenizer, GroupIndex groups,
                      int maxPositions) {
    ChatTemplate template = data.conversational()
        ? ModelSource.chatTemplate(model.model, model.tokenizer, chatTemplate, chatTemplateKwargs) : null;
    return new PairEncoder(tokenizer, template, groups, encodeOptions(maxPositions));
  }

  /** How the data files are read. */
  PreferenceData.ReadOptions readOptions() {
    return new PreferenceData.ReadOptions(format == null ? null : DataFormat.named(format), groupField, skipBadLines);
  }

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
