package dev.grpo4j.train;

import static dev.grpo4j.train.TrainConfig.require;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.grpo4j.data.DataFormat;
import dev.grpo4j.text.PreferenceData;

/**
 * The pairs a run reads, how it reads them, and how long an encoded pair may be.
 *
 * @param train training data file ({@code --train})
 * @param validation validation data file or null ({@code --validation})
 * @param test test data file or null ({@code --test})
 * @param skipBadLines skip malformed records ({@code --skip-bad-lines})
 * @param reading how records are read and rendered ({@code --format}, {@code --group-field},
 *     {@code --chat-template}); null (in run folders written before these options) reads as the defaults
 * @param maxPromptTokens {@code --max-prompt-tokens}
 * @param maxLength {@code --max-length}
 * @param appendEos {@code --append-eos}
 */
public record DataSpec(@JsonProperty("trainData") String train, @JsonProperty("validationData") String validation,
    @JsonProperty("testData") String test, boolean skipBadLines, PairReading reading, int maxPromptTokens,
    int maxLength, boolean appendEos) {

  public DataSpec {
    reading = reading == null ? PairReading.defaults() : reading;
    require(train != null, "--train is required: the training pairs (a JSONL, JSON, CSV or Parquet file)");
    require(maxPromptTokens >= 1, "--max-prompt-tokens = " + maxPromptTokens + ": must be >= 1");
    require(maxLength > maxPromptTokens, "--max-length = " + maxLength + " must exceed --max-prompt-tokens = "
        + maxPromptTokens);
  }

  /** The three splits read with the default reading, no bad lines skipped, no EOS appended. */
  public static DataSpec of(String train, String validation, String test, int maxPromptTokens, int maxLength) {
    return new DataSpec(train, validation, test, false, PairReading.defaults(), maxPromptTokens, maxLength, false);
  }

  /**
   * How data files are read and conversational records rendered.
   *
   * @param format {@code --format}, or null to tell each file's format from its extension
   * @param groupField {@code --group-field}
   * @param chatTemplate {@code --chat-template}, or null for the model's own
   * @param chatTemplateKwargs {@code --chat-template-kwargs} (a JSON object), or null
   */
  public record PairReading(String format, String groupField, String chatTemplate, String chatTemplateKwargs) {
    /** The defaults: formats from extensions, the field {@code group}, the model's template. */
    public static PairReading defaults() {
      return new PairReading(null, PreferenceData.DEFAULT_GROUP_FIELD, null, null);
    }

    public PairReading {
      groupField = groupField == null ? PreferenceData.DEFAULT_GROUP_FIELD : groupField;
    }

    /** The reader's options. */
    public PreferenceData.ReadOptions readOptions(boolean skipBadRecords) {
      return new PreferenceData.ReadOptions(format == null ? null : DataFormat.named(format), groupField,
          skipBadRecords);
    }
  }
}
