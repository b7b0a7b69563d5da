package dev.grpo4j.data;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The file formats preference data is read from: what Hugging Face datasets exports. */
public enum DataFormat {
  /** JSON Lines: one object per line ({@code Dataset.to_json}'s default). */
  JSONL("jsonl", "ndjson"),
  /** One JSON array of objects ({@code Dataset.to_json(lines=False)}). */
  JSON("json"),
  /** CSV with a header row ({@code Dataset.to_csv}); list cells as JSON or as pandas prints them. */
  CSV("csv"),
  /** Apache Parquet ({@code Dataset.to_parquet}, the Hub's own format). */
  PARQUET("parquet");

  private final String[] extensions;

  DataFormat(String... extensions) {
    this.extensions = extensions;
  }

  /** The {@code --format} value naming this format. */
  public String optionValue() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * The format named by {@code --format}.
   *
   * @throws IllegalArgumentException for an unknown name
   */
  public static DataFormat named(String option) {
    for (DataFormat f : values()) {
      if (f.optionValue().equals(option.toLowerCase(Locale.ROOT))) {
        return f;
      }
    }
    throw new IllegalArgumentException("--format " + option + ": use one of " + names());
  }

  /**
   * The format of a file, from its extension.
   *
   * @throws IllegalArgumentException for an extension that names no format
   */
  public static DataFormat ofFile(Path file) {
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
    for (DataFormat f : values()) {
      for (String extension : f.extensions) {
        if (name.endsWith("." + extension)) {
          return f;
        }
      }
    }
    throw new IllegalArgumentException(file + ": cannot tell the data format from the file name; name it .jsonl, "
        + ".json, .csv or .parquet, or pass --format " + names());
  }

  private static String names() {
    return Arrays.stream(values()).map(DataFormat::optionValue).collect(Collectors.joining("|"));
  }
}
