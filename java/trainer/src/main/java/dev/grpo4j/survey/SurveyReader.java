package dev.grpo4j.survey;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.grpo4j.data.DataFormat;
import dev.grpo4j.data.DataFormatException;
import dev.grpo4j.data.PythonLiteral;
import dev.grpo4j.data.TableReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Reads survey questions with per-group answer distributions.
 *
 * <p><b>JSON</b> ({@code .json}, {@code .jsonl}, {@code .ndjson}): a JSON array of objects, or one object per line
 * (JSON Lines), each in Anthropic's GlobalOpinionQA layout:
 *
 * <pre>{@code
 * {"question": "...", "options": ["Yes", "No"], "selections": {"Germany": [0.7, 0.3], "France": [0.4, 0.6]}}
 * }</pre>
 *
 * {@code options} may also be a string holding a Python list literal ({@code "['Yes', \"Don't know\"]"}) and
 * {@code selections} a string holding a Python dict, or {@code defaultdict(<class 'list'>, {...})}, as the data set
 * stores them. Other fields (such as {@code source}) are ignored.
 *
 * <p><b>CSV</b> ({@code .csv}, with a header; column names are matched ignoring case), in one of two layouts, told
 * apart by the header:
 *
 * <ul>
 *   <li>GlobalOpinionQA's own {@code global_opinions.csv}: columns {@code question}, {@code options} and
 *       {@code selections} holding the Python literals above, one row per question.
 *   <li>Long: columns {@code question}, {@code option}, {@code group} and {@code share} (or {@code count}), one row
 *       per question, option and group. A question's options are lettered in the order they first appear in its
 *       rows; a group with no row for an option has share 0 for it.
 * </ul>
 *
 * <p>Shares may be probabilities, percentages or counts (only their order matters) and must be finite and {@code >= 0}.
 * A missing, {@code null} or empty options or share list reads as empty (such questions and groups are skipped later,
 * as the paper's code skips them).
 */
public final class SurveyReader {
  /** How many problem messages a read keeps for its report. */
  public static final int PROBLEMS_KEPT = 5;

  private static final List<String> WIDE_COLUMNS = List.of("question", "options", "selections");
  private static final List<String> LONG_COLUMNS = List.of("question", "option", "group");

  private SurveyReader() {}

  /** Input formats. */
  public enum Format {
    /** A JSON array of question objects, or JSON Lines. */
    JSON,
    /** CSV with a header, wide (GlobalOpinionQA) or long layout. */
    CSV;

    /**
     * The format the file's extension names, if it names one: {@code .json}, {@code .jsonl} and {@code .ndjson} are
     * JSON, {@code .csv} is CSV (any case).
     */
    public static Optional<Format> ofFile(Path file) {
      String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
      if (name.endsWith(".json") || name.endsWith(".jsonl") || name.endsWith(".ndjson")) {
        return Optional.of(JSON);
      }
      return name.endsWith(".csv") ? Optional.of(CSV) : Optional.empty();
    }
  }

  /**
   * The result of reading a file.
   *
   * @param questions the well-formed questions, in file order; never empty
   * @param badRecords records that could not be read and were left out (JSON objects or CSV rows)
   * @param firstProblems {@code file:line (record n): what is wrong} of the first {@value #PROBLEMS_KEPT} of them
   */
  public record Loaded(List<SurveyQuestion> questions, int badRecords, List<String> firstProblems) {
    public Loaded {
      questions = List.copyOf(questions);
      firstProblems = List.copyOf(firstProblems);
    }
  }

  /**
   * Reads a survey file.
   *
   * @param file the file, UTF-8
   * @param format its format
   * @param skipBadRecords leave out records with bad content (counted, with the first messages) instead of failing on
   *     the first; in the long CSV layout a bad row leaves out its whole question. A file that is not valid JSON or
   *     CSV, or lacks a column, fails either way
   * @return the questions
   * @throws DataFormatException naming the file, line and record and what is wrong
   * @throws NoSuchFileException if the file does not exist
   * @throws IOException if it cannot be read
   */
  public static Loaded read(Path file, Format format, boolean skipBadRecords) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "survey file not found");
    }
    Problems problems = new Problems(skipBadRecords);
    List<SurveyQuestion> questions = switch (format) {
      case JSON -> readJson(file, problems);
      case CSV -> readCsv(file, problems);
    };
    if (questions.isEmpty()) {
      throw new DataFormatException(problems.count == 0 ? file + ": no survey questions in the file"
          : file + ": no usable survey questions: all " + problems.count + " records are bad, e.g. "
              + problems.first.getFirst());
    }
    return new Loaded(questions, problems.count, problems.first);
  }

  private static List<SurveyQuestion> readJson(Path file, Problems problems) throws IOException {
    List<SurveyQuestion> questions = new ArrayList<>();
    TableReader.readJsonValues(file, new TableReader.ValueHandler() {
      private int record;

      @Override
      public void value(long line, JsonNode node) {
        String origin = file + ":" + line + " (record " + ++record + ")";
        try {
          questions.add(fromJson(origin, node));
        } catch (BadRecord bad) {
          problems.add(origin + ": " + bad.getMessage());
        }
      }
    });
    return questions;
  }

  private static SurveyQuestion fromJson(String origin, JsonNode node) {
    if (!node.isObject()) {
      throw new BadRecord("expected an object with \"question\", \"options\" and \"selections\", got "
          + PythonLiteral.typeName(node));
    }
    JsonNode question = node.path("question");
    if (question.isMissingNode() || question.isNull()) {
      throw new BadRecord("field \"question\" is missing");
    }
    if (!question.isTextual()) {
      throw new BadRecord("field \"question\" must be a string, got " + PythonLiteral.typeName(question));
    }
    if (!node.has("selections")) {
      throw new BadRecord("field \"selections\" is missing; it maps each group to its shares of the options, e.g. "
          + "{\"Germany\": [0.7, 0.3]}");
    }
    return question(origin, question.textValue(), node.path("options"), node.get("selections"));
  }

  private static List<SurveyQuestion> readCsv(Path file, Problems problems) throws IOException {
    CsvLayouts layouts = new CsvLayouts(file, problems);
    TableReader.read(file, DataFormat.CSV, layouts);
    return layouts.questions();
  }

  private static String longHeaderHint() {
    return "question,option,group,share";
  }

  /** The CSV rows, read into questions in the layout the header names. */
  private static final class CsvLayouts implements TableReader.RowHandler {
    private final Path file;
    private final Problems problems;
    private final List<SurveyQuestion> wideQuestions = new ArrayList<>();
    private Map<String, String> columns;
    private LongLayout longRows;
    private int row;

    CsvLayouts(Path file, Problems problems) {
      this.file = file;
      this.problems = problems;
    }

    @Override
    public void header(List<String> names) {
      if (names.isEmpty()) {
        throw new DataFormatException(file + ": empty file; expected a CSV header, e.g. " + longHeaderHint());
      }
      columns = new HashMap<>();
      for (String name : names) {
        columns.putIfAbsent(name.strip().toLowerCase(Locale.ROOT), name);
      }
      boolean wide = columns.containsKey("selections");
      List<String> needed = new ArrayList<>(wide ? WIDE_COLUMNS : LONG_COLUMNS);
      if (!wide) {
        if (columns.containsKey("share") && columns.containsKey("count")) {
          throw new DataFormatException(file + ": has both a share and a count column; keep one");
        }
        needed.add(columns.containsKey("count") ? "count" : "share");
      }
      for (String column : needed) {
        if (!columns.containsKey(column)) {
          throw new DataFormatException(file + ": no column \"" + column + "\" in the header " + names + "; expected "
              + (wide ? "GlobalOpinionQA's columns question, options, selections"
                  : longHeaderHint() + " (long layout), or question, options, selections (GlobalOpinionQA's layout)"));
        }
      }
      longRows = wide ? null : new LongLayout(file, columns);
    }

    @Override
    public void row(long line, ObjectNode cells) {
      String origin = file + ":" + line + " (row " + ++row + ")";
      try {
        if (longRows == null) {
          wideQuestions.add(question(origin, text(cells, columns.get("question")), cells.path(columns.get("options")),
              cells.path(columns.get("selections"))));
        } else {
          longRows.add(line, text(cells, columns.get("question")), text(cells, columns.get("option")),
              text(cells, columns.get("group")), text(cells, longRows.shareColumn));
        }
      } catch (BadRecord bad) {
        problems.add(origin + ": " + bad.getMessage());
      }
    }

    @Override
    public void malformed(long position, String problem) {
      problems.add(file + ":" + position + ": " + problem);
    }

    List<SurveyQuestion> questions() {
      return longRows == null ? wideQuestions : longRows.questions();
    }

    /** A cell's text, stripped; "" when empty. A cell holding a list (the reader parses those) as its JSON. */
    private static String text(ObjectNode cells, String column) {
      JsonNode cell = cells.path(column);
      return cell.isMissingNode() ? "" : cell.isTextual() ? cell.textValue().strip() : cell.toString();
    }
  }

  /** The checks shared by every layout; {@code options} and {@code selections} as JSON or Python literal values. */
  private static SurveyQuestion question(String origin, String question, JsonNode options, JsonNode selections) {
    if (question.isBlank()) {
      throw new BadRecord("the question text is empty");
    }
    List<String> optionList = options(options);
    Map<String, List<Double>> shares = selections(selections);
    try {
      return new SurveyQuestion(origin, question, optionList, shares);
    } catch (IllegalArgumentException e) {
      String message = e.getMessage();
      throw new BadRecord(message.startsWith(origin + ": ") ? message.substring(origin.length() + 2) : message);
    }
  }

  private static List<String> options(JsonNode value) {
    JsonNode parsed = literal("options", value, "['Yes', 'No']");
    if (parsed.isNull() || parsed.isMissingNode()) {
      return List.of();
    }
    if (!parsed.isArray()) {
      throw new BadRecord("field \"options\" must be a list of strings, e.g. [\"Yes\", \"No\"], got "
          + PythonLiteral.typeName(parsed));
    }
    List<String> options = new ArrayList<>();
    for (JsonNode item : parsed) {
      if (!item.isTextual() && !item.isNumber()) {
        throw new BadRecord("option " + (options.size() + 1) + " is " + PythonLiteral.typeName(item)
            + "; options must be strings (or numbers)");
      }
      options.add(item.asText());
    }
    return options;
  }

  private static Map<String, List<Double>> selections(JsonNode value) {
    JsonNode parsed = literal("selections", value, "defaultdict(<class 'list'>, {'Germany': [0.7, 0.3]})");
    if (parsed.isNull() || parsed.isMissingNode()) {
      return Map.of();
    }
    if (!parsed.isObject()) {
      throw new BadRecord("field \"selections\" must map each group to its shares, e.g. {\"Germany\": [0.7, 0.3]}, "
          + "got " + PythonLiteral.typeName(parsed));
    }
    Map<String, List<Double>> selections = new LinkedHashMap<>();
    parsed.properties().forEach(e -> selections.put(e.getKey(), shares(e.getKey(), e.getValue())));
    return selections;
  }

  private static List<Double> shares(String group, JsonNode value) {
    if (value.isNull()) {
      return List.of();
    }
    if (!value.isArray()) {
      throw new BadRecord("selections: group \"" + group + "\" must have a list of shares, got "
          + PythonLiteral.typeName(value));
    }
    List<Double> shares = new ArrayList<>();
    for (JsonNode item : value) {
      if (!item.isNumber()) {
        throw new BadRecord("selections: share " + (shares.size() + 1) + " of group \"" + group + "\" is "
            + PythonLiteral.typeName(item) + "; shares must be numbers");
      }
      shares.add(item.doubleValue());
    }
    return shares;
  }

  /**
   * {@code value}, or the Python literal a string holds (as GlobalOpinionQA stores them); missing for a blank
   * string.
   */
  private static JsonNode literal(String field, JsonNode value, String example) {
    if (!value.isTextual()) {
      return value;
    }
    String text = value.textValue();
    if (text.isBlank()) {
      return MissingNode.getInstance();
    }
    try {
      return PythonLiteral.parse(text);
    } catch (PythonLiteral.SyntaxError e) {
      throw new BadRecord("field \"" + field + "\" is not a JSON or Python literal: " + e.getMessage()
          + "; expected e.g. " + example);
    }
  }

  /** Collects the long layout's rows into questions. */
  private static final class LongLayout {
    private final Path file;
    private final String questionColumn;
    private final String optionColumn;
    private final String groupColumn;
    final String shareColumn;
    private final Map<String, Question> questions = new LinkedHashMap<>();

    /** One question's rows so far. */
    private static final class Question {
      final long firstLine;
      final Map<String, Integer> options = new LinkedHashMap<>();
      final Map<String, Map<Integer, Double>> shares = new LinkedHashMap<>();
      final Map<String, Long> seen = new HashMap<>();
      boolean bad;

      Question(long firstLine) {
        this.firstLine = firstLine;
      }
    }

    LongLayout(Path file, Map<String, String> columns) {
      this.file = file;
      this.questionColumn = columns.get("question");
      this.optionColumn = columns.get("option");
      this.groupColumn = columns.get("group");
      String share = columns.containsKey("count") ? "count" : "share";
      this.shareColumn = columns.get(share);
    }

    void add(long line, String text, String option, String group, String shareText) {
      if (text.isEmpty()) {
        throw new BadRecord("column " + questionColumn + " is empty");
      }
      Question q = questions.computeIfAbsent(text, t -> new Question(line));
      try {
        if (option.isEmpty() || group.isEmpty()) {
          throw new BadRecord("column " + (option.isEmpty() ? optionColumn : groupColumn) + " is empty");
        }
        double share = share(shareText);
        Long earlier = q.seen.putIfAbsent(option + "\0" + group, line);
        if (earlier != null) {
          throw new BadRecord("a second row for option \"" + option + "\" and group \"" + group + "\" of this "
              + "question (the first is on line " + earlier + "); keep one row per question, option and group");
        }
        int index = q.options.computeIfAbsent(option, o -> q.options.size());
        q.shares.computeIfAbsent(group, g -> new HashMap<>()).put(index, share);
      } catch (BadRecord bad) {
        q.bad = true;
        throw bad;
      }
    }

    private double share(String text) {
      if (text.isEmpty()) {
        throw new BadRecord("column " + shareColumn + " is empty; write 0 for an option nobody in the group chose");
      }
      double share;
      try {
        share = Double.parseDouble(text);
      } catch (NumberFormatException e) {
        throw new BadRecord("column " + shareColumn + ": \"" + text + "\" is not a number");
      }
      if (!Double.isFinite(share) || share < 0) {
        throw new BadRecord("column " + shareColumn + ": " + text + " is " + (share < 0 ? "negative" : "not finite")
            + "; " + shareColumn + "s must be finite and >= 0");
      }
      return share;
    }

    List<SurveyQuestion> questions() {
      List<SurveyQuestion> out = new ArrayList<>();
      for (Map.Entry<String, Question> e : questions.entrySet()) {
        Question q = e.getValue();
        if (q.bad) {
          // Its bad rows are already counted and reported; a question missing rows would mislead.
          continue;
        }
        Map<String, List<Double>> selections = new LinkedHashMap<>();
        q.shares.forEach((group, byOption) -> {
          List<Double> shares = new ArrayList<>();
          for (int i = 0; i < q.options.size(); i++) {
            shares.add(byOption.getOrDefault(i, 0.0));
          }
          selections.put(group, shares);
        });
        String text = e.getKey();
        String origin = file + ":" + q.firstLine + " (question \""
            + (text.length() > 40 ? text.substring(0, 40) + "…" : text) + "\")";
        out.add(new SurveyQuestion(origin, text, List.copyOf(q.options.keySet()), selections));
      }
      return out;
    }
  }

  /** Bad records: the first fails the read unless they are skipped, counted, with the first messages kept. */
  private static final class Problems {
    private final boolean skip;
    private final List<String> first = new ArrayList<>();
    private int count;

    Problems(boolean skip) {
      this.skip = skip;
    }

    void add(String message) {
      if (!skip) {
        throw new DataFormatException(message);
      }
      count++;
      if (first.size() < PROBLEMS_KEPT) {
        first.add(message);
      }
    }
  }

  /** What is wrong with one record, without its origin; cheap, as lenient reads may make many. */
  private static final class BadRecord extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BadRecord(String message) {
      super(message, null, false, false);
    }
  }
}
