package dev.grpo4j.survey;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.grpo4j.io.AtomicDirectory;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes a split survey data set as the trainer reads it: {@code train.jsonl}, {@code validation.jsonl} and
 * {@code test.jsonl} (one {@code {"prompt", "chosen", "rejected", "group"}} object per line, UTF-8, in the split's
 * order; a part may be empty) and {@code groups.json}:
 *
 * <pre>{@code
 * {"seed": 0, "split": {"train": 80, "validation": 10, "test": 10},
 *  "groups": {"France": {"train": 8, "validation": 1, "test": 1}, ...},
 *  "total": {"train": 8, "validation": 1, "test": 1}}
 * }</pre>
 */
public final class SurveyOutput {
  /** The files a conversion writes. */
  public static final List<String> FILES = List.of("train.jsonl", "validation.jsonl", "test.jsonl", "groups.json");

  private static final ObjectMapper JSON = new ObjectMapper();

  private SurveyOutput() {}

  /**
   * Writes the folder atomically (see {@link AtomicDirectory}): readers see the old folder or the complete new one,
   * and an existing {@code dir} is replaced whole.
   *
   * @param dir the output folder
   * @param split the pairs per part
   * @param fractions the split's percentages, recorded in {@code groups.json}
   * @param seed the conversion's seed, recorded in {@code groups.json}
   * @throws java.io.UncheckedIOException if the folder cannot be written
   */
  public static void write(Path dir, StratifiedSplit.Split<SurveyPair> split, StratifiedSplit.Fractions fractions,
                           long seed) {
    AtomicDirectory.write(dir, folder -> {
      writeJsonl(folder.resolve(FILES.get(0)), split.train());
      writeJsonl(folder.resolve(FILES.get(1)), split.validation());
      writeJsonl(folder.resolve(FILES.get(2)), split.test());
      Files.writeString(folder.resolve(FILES.get(3)), groupsJson(split, fractions, seed), StandardCharsets.UTF_8);
    });
  }

  /** One pair as its JSON Lines line, without the newline. */
  public static String jsonLine(SurveyPair pair) {
    ObjectNode line = JSON.createObjectNode();
    line.put("prompt", pair.prompt());
    line.put("chosen", pair.chosen());
    line.put("rejected", pair.rejected());
    line.put("group", pair.group());
    return line.toString();
  }

  private static void writeJsonl(Path file, List<SurveyPair> pairs) throws IOException {
    try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      for (SurveyPair pair : pairs) {
        w.write(jsonLine(pair));
        w.write('\n');
      }
    }
  }

  private static String groupsJson(StratifiedSplit.Split<SurveyPair> split, StratifiedSplit.Fractions fractions,
                                   long seed) throws IOException {
    ObjectNode root = JSON.createObjectNode();
    root.put("seed", seed);
    ObjectNode percentages = root.putObject("split");
    percent(percentages, "train", fractions.train());
    percent(percentages, "validation", fractions.validation());
    percent(percentages, "test", fractions.test());
    ObjectNode groups = root.putObject("groups");
    int train = 0;
    int validation = 0;
    int test = 0;
    for (StratifiedSplit.GroupCounts g : split.groups()) {
      counts(groups.putObject(g.group()), g.sizes().train(), g.sizes().validation(), g.sizes().test());
      train += g.sizes().train();
      validation += g.sizes().validation();
      test += g.sizes().test();
    }
    counts(root.putObject("total"), train, validation, test);
    return JSON.writer(SerializationFeature.INDENT_OUTPUT).writeValueAsString(root) + "\n";
  }

  private static void percent(ObjectNode node, String name, double value) {
    if (value == Math.rint(value) && Math.abs(value) <= 100) {
      node.put(name, (int) value);
    } else {
      node.put(name, value);
    }
  }

  private static void counts(ObjectNode node, int train, int validation, int test) {
    node.put("train", train);
    node.put("validation", validation);
    node.put("test", test);
  }
}
