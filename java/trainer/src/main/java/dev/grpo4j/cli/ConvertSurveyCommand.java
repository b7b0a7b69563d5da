package dev.grpo4j.cli;

import dev.grpo4j.survey.StratifiedSplit;
import dev.grpo4j.survey.SurveyOutput;
import dev.grpo4j.survey.SurveyPair;
import dev.grpo4j.survey.SurveyPairs;
import dev.grpo4j.survey.SurveyQuestion;
import dev.grpo4j.survey.SurveyReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code grpo4j convert-survey}: survey answer distributions per group (GlobalOpinionQA and the like) into the
 * trainer's preference pairs, split per group into train, validation and test, as the GR-DPO paper prepared its
 * GlobalOpinionQA experiment. The prompt format, letters and random draws are those of {@link SurveyPairs}, the
 * split that of {@link StratifiedSplit}, the input layouts those of {@link SurveyReader}.
 */
@Command(name = "convert-survey",
    sortOptions = false,
    description = {
        "Turns survey questions with each group's answer distribution into preference pairs, as the GR-DPO paper "
            + "built its GlobalOpinionQA data: for every question and group with answers, one pair whose prompt is%n"
            + "%n"
            + "  Opinion of people in {group} on: {question}%n"
            + "  Please select the best response:%n"
            + "  A. {option 1}%n"
            + "  B. {option 2}%n"
            + "  ...%n"
            + "  Answer:%n"
            + "%n"
            + "(no newline after 'Answer:'), whose chosen response is --letter-prefix plus the letter of the group's "
            + "most frequent answer (ties: the lowest letter), and whose rejected response is another letter drawn "
            + "uniformly with a generator seeded by --seed and the group. Questions with fewer than 2 (or more than "
            + "26) options and groups whose shares are empty or all zero are skipped and counted.",
        "",
        "Input (--format, or from the extension):",
        "  json (.json, .jsonl, .ndjson): a JSON array or JSON Lines of objects {\"question\": \"...\", "
            + "\"options\": [\"Yes\", \"No\"], \"selections\": {\"Germany\": [0.7, 0.3]}}, Anthropic's "
            + "GlobalOpinionQA layout; options and selections may also be Python literals in strings, e.g. "
            + "\"defaultdict(<class 'list'>, {'Germany': [0.7, 0.3]})\", as the data set stores them.",
        "  csv (.csv, with a header): GlobalOpinionQA's global_opinions.csv (columns question, options, selections), "
            + "or the long layout: columns question, option, group, share (or count), one row per question, option "
            + "and group; options are lettered in the order they first appear within their question, and a missing "
            + "row is a share of 0.",
        "",
        "Output in --out: train.jsonl, validation.jsonl, test.jsonl (lines {\"prompt\", \"chosen\", \"rejected\", "
            + "\"group\"}, in input order) and groups.json (pairs per group and part). Each group's pairs are "
            + "shuffled with --seed and split by --split; a group with at least 3 pairs gets at least one validation "
            + "and one test pair, a smaller one goes to train whole (with a warning). The folder appears complete or "
            + "not at all. Prints the pairs per group.",
        ""})
public final class ConvertSurveyCommand implements Callable<Integer> {
  /** Group names listed by an unknown-group error before it elides the rest. */
  private static final int NAMES_SHOWN = 20;

  @Spec
  private CommandSpec spec;

  @Option(names = "--input", required = true, paramLabel = "FILE",
      description = "Survey file: JSON, JSON Lines or CSV (layouts above).")
  private Path input;

  @Option(names = "--format", paramLabel = "FORMAT",
      description = "json or csv (default: from the extension of --input).")
  private SurveyReader.Format format;

  @Option(names = "--out", required = true, paramLabel = "DIR",
      description = "Output folder; created. An existing non-empty folder is refused unless --overwrite.")
  private Path out;

  @Option(names = "--overwrite",
      description = "Replace --out if it holds an earlier conversion (only its four files; anything else is "
          + "refused rather than deleted).")
  private boolean overwrite;

  @Option(names = "--split", defaultValue = "80,10,10", paramLabel = "TRAIN,VALIDATION,TEST",
      converter = FractionsConverter.class,
      description = "Percentages of each group's pairs for train, validation and test, adding up to 100 "
          + "(default: ${DEFAULT-VALUE}).")
  private StratifiedSplit.Fractions split;

  @Option(names = "--seed", defaultValue = "0", paramLabel = "SEED",
      description = "Seed of the rejected letters and of the split (default: ${DEFAULT-VALUE}).")
  private long seed;

  @Option(names = "--groups", split = ",", paramLabel = "GROUP",
      description = "Keep only these groups (comma-separated; quote a name that holds a comma); each must be in the "
          + "input (default: all).")
  private List<String> groups;

  @Option(names = "--max-questions", paramLabel = "N",
      description = "Use only the first N questions of the input (default: all).")
  private Integer maxQuestions;

  @Option(names = "--letter-prefix", defaultValue = SurveyPairs.DEFAULT_LETTER_PREFIX, paramLabel = "TEXT",
      description = "Text before the letter in each response. The default, a space, makes prompt and response read "
          + "'Answer: A', and tokenizers that attach a leading space to the word after it see the usual ' A' token. "
          + "Use '' for the bare letter, as the paper's code did.")
  private String letterPrefix;

  @Option(names = "--skip-bad-records",
      description = "Leave out records that cannot be read (counted and reported) instead of stopping at the first.")
  private boolean skipBadRecords;

  @Override
  public Integer call() throws IOException {
    PrintWriter stdout = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (maxQuestions != null && maxQuestions < 1) {
      throw new ParameterException(spec.commandLine(), "--max-questions must be at least 1, got " + maxQuestions);
    }
    SurveyReader.Format inputFormat = format != null ? format : SurveyReader.Format.ofFile(input)
        .orElseThrow(() -> new ParameterException(spec.commandLine(), "--input " + input + ": cannot tell the "
            + "format from the file name; name it .json, .jsonl, .ndjson or .csv, or pass --format json or "
            + "--format csv"));
    OutputFolder.requireReplaceable(out, overwrite, SurveyOutput.FILES::contains, "convert-survey",
        "an earlier conversion");

    SurveyReader.Loaded loaded = SurveyReader.read(input, inputFormat, skipBadRecords);
    List<SurveyQuestion> questions = loaded.questions();
    err.println("read " + questions.size() + " questions from " + input + " ("
        + inputFormat.name().toLowerCase(Locale.ROOT) + ")");
    if (loaded.badRecords() > 0) {
      err.println("left out " + loaded.badRecords() + " bad records, e.g. " + loaded.firstProblems().getFirst());
    }
    if (maxQuestions != null && questions.size() > maxQuestions) {
      questions = questions.subList(0, maxQuestions);
      err.println("using the first " + maxQuestions + " questions (--max-questions)");
    }
    if (groups != null && !groups.isEmpty()) {
      questions = onlyGroups(questions);
    }

    SurveyPairs.Built built = SurveyPairs.build(questions, letterPrefix, seed);
    reportSkipped(err, built.skipped());
    if (built.pairs().isEmpty()) {
      throw new IllegalArgumentException(input + ": no preference pairs: every question/group combination was "
          + "skipped (fewer than 2 or more than 26 options, or no answers)");
    }
    StratifiedSplit.Split<SurveyPair> parts = StratifiedSplit.split(built.pairs(), SurveyPair::group, split, seed);
    for (StratifiedSplit.GroupCounts g : parts.groups()) {
      if (g.sizes().tooSmall()) {
        err.println("warning: group \"" + g.group() + "\" has " + g.sizes().total() + " pairs, fewer than the "
            + split.minimumToSplit() + " that --split " + split + " needs to put one in every part; all go to train");
      }
    }
    SurveyOutput.write(out, parts, split, seed);

    stdout.print(table(parts.groups()));
    stdout.flush();
    err.println("wrote " + built.pairs().size() + " pairs (train " + parts.train().size() + ", validation "
        + parts.validation().size() + ", test " + parts.test().size() + ") to " + out + ": "
        + String.join(", ", SurveyOutput.FILES));
    err.flush();
    return 0;
  }

  private List<SurveyQuestion> onlyGroups(List<SurveyQuestion> questions) {
    Set<String> present = new TreeSet<>();
    questions.forEach(q -> present.addAll(q.selections().keySet()));
    Set<String> wanted = new LinkedHashSet<>();
    for (String g : groups) {
      String name = g.strip();
      // picocli keeps the quotes that protect a name's commas from --groups' splitting.
      if (name.length() >= 2 && name.startsWith("\"") && name.endsWith("\"")) {
        name = name.substring(1, name.length() - 1);
      }
      wanted.add(name);
    }
    List<String> missing = wanted.stream().filter(g -> !present.contains(g)).toList();
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("--groups: " + (missing.size() == 1 ? "group \"" + missing.getFirst()
          + "\" is" : "groups " + missing + " are") + " not in " + (maxQuestions != null
          ? "the first " + maxQuestions + " questions of " : "") + input + "; its groups are "
          + shown(new ArrayList<>(present)) + " (names must match exactly, case included)");
    }
    return questions.stream().map(q -> q.onlyGroups(wanted)).toList();
  }

  private static void reportSkipped(PrintWriter err, SurveyPairs.Skipped skipped) {
    if (skipped.total() == 0) {
      return;
    }
    List<String> parts = new ArrayList<>();
    if (skipped.fewOptions() > 0) {
      parts.add(skipped.fewOptions() + " where the question has fewer than 2 options");
    }
    if (skipped.manyOptions() > 0) {
      parts.add(skipped.manyOptions() + " where it has more than " + SurveyPairs.MAX_OPTIONS + " options");
    }
    if (skipped.noAnswers() > 0) {
      parts.add(skipped.noAnswers() + " with no answers (shares empty or all zero)");
    }
    err.println("skipped " + skipped.total() + " question/group combinations: " + String.join(", ", parts));
  }

  private static String table(List<StratifiedSplit.GroupCounts> groups) {
    int width = "group".length();
    for (StratifiedSplit.GroupCounts g : groups) {
      width = Math.max(width, g.group().length());
    }
    String row = "%-" + width + "s  %6s  %6s  %10s  %6s%s%n";
    StringBuilder table = new StringBuilder(String.format(Locale.ROOT, row, "group", "pairs", "train", "validation",
        "test", ""));
    int train = 0;
    int validation = 0;
    int test = 0;
    for (StratifiedSplit.GroupCounts g : groups) {
      StratifiedSplit.Sizes s = g.sizes();
      table.append(String.format(Locale.ROOT, row, g.group(), s.total(), s.train(), s.validation(), s.test(),
          s.tooSmall() ? "  (too few pairs to split: all train)" : ""));
      train += s.train();
      validation += s.validation();
      test += s.test();
    }
    table.append(String.format(Locale.ROOT, row, "total", train + validation + test, train, validation, test, ""));
    return table.toString();
  }

  private static String shown(List<String> names) {
    return names.size() <= NAMES_SHOWN ? String.join(", ", names)
        : String.join(", ", names.subList(0, NAMES_SHOWN)) + ", ... (" + names.size() + " in all)";
  }

  /** Reads {@code --split}; a bad value is a usage error (exit code 2) with the reader's explanation. */
  static final class FractionsConverter implements ITypeConverter<StratifiedSplit.Fractions> {
    @Override
    public StratifiedSplit.Fractions convert(String value) {
      try {
        return StratifiedSplit.Fractions.parse(value);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }
}
