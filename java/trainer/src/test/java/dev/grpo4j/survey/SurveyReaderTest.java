package dev.grpo4j.survey;

import dev.grpo4j.data.DataFormatException;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every input layout, read to the same questions, and every kind of bad input. */
class SurveyReaderTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The two questions every layout below holds, as question, options and selections. */
  private static final List<List<Object>> EXPECTED = List.of(
      List.of("Do you support the death penalty?", List.of("Yes", "No"),
          map("Germany", List.of(0.3, 0.7), "France", List.of(0.6, 0.4))),
      List.of("How good is the economy?", List.of("Very good", "Somewhat good", "Don't know", "Very bad"),
          map("Germany", List.of(0.1, 0.4, 0.4, 0.1), "France", List.of(0.05, 0.15, 0.3, 0.5))));

  /** GlobalOpinionQA as the data set stores it: Python literals in strings. */
  static final List<Map<String, Object>> PYTHON_LITERAL_RECORDS = List.of(
      Map.of("question", "Do you support the death penalty?", "options", "['Yes', 'No']",
          "selections", "defaultdict(<class 'list'>, {'Germany': [0.3, 0.7], 'France': [0.6, 0.4]})",
          "source", "GAS"),
      Map.of("question", "How good is the economy?",
          "options", "['Very good', 'Somewhat good', \"Don't know\", 'Very bad']",
          "selections", "defaultdict(<class 'list'>, {'Germany': [0.1, 0.4, 0.4, 0.1], "
              + "'France': [0.05, 0.15, 0.3, 0.5]})",
          "source", "WVS"));

  @TempDir
  Path dir;

  private static Map<String, List<Double>> map(String g1, List<Double> s1, String g2, List<Double> s2) {
    Map<String, List<Double>> m = new LinkedHashMap<>();
    m.put(g1, s1);
    m.put(g2, s2);
    return m;
  }

  private static List<List<Object>> contents(SurveyReader.Loaded loaded) {
    return loaded.questions().stream()
        .map(q -> List.<Object>of(q.question(), q.options(), q.selections())).toList();
  }

  private Path write(String name, String content) throws IOException {
    return Files.writeString(dir.resolve(name), content);
  }

  private Path pythonLiteralJsonl() throws IOException {
    StringBuilder lines = new StringBuilder();
    for (Map<String, Object> record : PYTHON_LITERAL_RECORDS) {
      lines.append(JSON.writeValueAsString(record)).append('\n');
    }
    return write("opinions.jsonl", lines.toString());
  }

  @Test
  void pythonLiteralStringsAsTheDataSetStoresThem() throws IOException {
    Path file = pythonLiteralJsonl();
    SurveyReader.Loaded loaded = SurveyReader.read(file, SurveyReader.Format.JSON, false);
    assertEquals(EXPECTED, contents(loaded));
    assertEquals(List.of("Germany", "France"), List.copyOf(loaded.questions().getFirst().selections().keySet()),
        "groups keep their order");
    assertEquals(file + ":2 (record 2)", loaded.questions().get(1).origin());
    assertEquals(0, loaded.badRecords());
  }

  @Test
  void cleanJsonArrayAndJsonLinesReadTheSame() throws IOException {
    String first = "{\"question\": \"Do you support the death penalty?\", \"options\": [\"Yes\", \"No\"], "
        + "\"selections\": {\"Germany\": [0.3, 0.7], \"France\": [0.6, 0.4]}}";
    String second = "{\"question\": \"How good is the economy?\", "
        + "\"options\": [\"Very good\", \"Somewhat good\", \"Don't know\", \"Very bad\"], "
        + "\"selections\": {\"Germany\": [0.1, 0.4, 0.4, 0.1], \"France\": [0.05, 0.15, 0.3, 0.5]}}";
    Path array = write("opinions.json", "\uFEFF[\n  " + first + ",\n  " + second + "\n]\n");
    SurveyReader.Loaded fromArray = SurveyReader.read(array, SurveyReader.Format.JSON, false);
    assertEquals(EXPECTED, contents(fromArray));
    assertEquals(array + ":3 (record 2)", fromArray.questions().get(1).origin());

    Path lines = write("opinions.jsonl", first + "\n\n" + second + "\n");
    SurveyReader.Loaded fromLines = SurveyReader.read(lines, SurveyReader.Format.JSON, false);
    assertEquals(EXPECTED, contents(fromLines));
    assertEquals(lines + ":3 (record 2)", fromLines.questions().get(1).origin(), "blank lines count as lines");
  }

  @Test
  void globalOpinionsCsvWithPythonLiterals() throws IOException {
    Path file = write("global_opinions.csv", """
        question,selections,options,source
        "Do you support the death penalty?",\
        "defaultdict(<class 'list'>, {'Germany': [0.3, 0.7], 'France': [0.6, 0.4]})","['Yes', 'No']",GAS
        "How good is the economy?",\
        "defaultdict(<class 'list'>, {'Germany': [0.1, 0.4, 0.4, 0.1], 'France': [0.05, 0.15, 0.3, 0.5]})",\
        "['Very good', 'Somewhat good', ""Don't know"", 'Very bad']",WVS
        """);
    SurveyReader.Loaded loaded = SurveyReader.read(file, SurveyReader.Format.CSV, false);
    assertEquals(EXPECTED, contents(loaded));
    assertEquals(file + ":3 (row 2)", loaded.questions().get(1).origin());
  }

  @Test
  void longCsvWithShares() throws IOException {
    Path file = write("opinions.csv", """
        question,option,group,share
        Do you support the death penalty?,Yes,Germany,0.3
        Do you support the death penalty?,No,Germany,0.7
        Do you support the death penalty?,Yes,France,0.6
        Do you support the death penalty?,No,France,0.4
        How good is the economy?,Very good,Germany,0.1
        How good is the economy?,Somewhat good,Germany,0.4
        How good is the economy?,Don't know,Germany,0.4
        How good is the economy?,Very bad,Germany,0.1
        How good is the economy?,Very good,France,0.05
        How good is the economy?,Somewhat good,France,0.15
        How good is the economy?,Don't know,France,0.3
        How good is the economy?,Very bad,France,0.5
        """);
    SurveyReader.Loaded loaded = SurveyReader.read(file, SurveyReader.Format.CSV, false);
    assertEquals(EXPECTED, contents(loaded));
    String origin = loaded.questions().get(1).origin();
    assertTrue(origin.startsWith(file + ":6 (question \"How good is the economy?\")"), origin);
  }

  @Test
  void longCsvWithCountsLettersOptionsInFirstAppearanceOrderAndFillsMissingRowsWithZero() throws IOException {
    Path file = write("counts.csv", """
        Group,Question,Option,Count,note
        Germany,Is it raining?,No,30,ignored
        Germany,Is it raining?,Yes,70,
        France,"Is it raining?",Maybe,5,
        France,"Do you like ""quotes"", commas?",Yes,2,
        France,"Do you like ""quotes"", commas?",No,1,
        """);
    SurveyReader.Loaded loaded = SurveyReader.read(file, SurveyReader.Format.CSV, false);
    assertEquals(List.of(
        List.of("Is it raining?", List.of("No", "Yes", "Maybe"),
            map("Germany", List.of(30.0, 70.0, 0.0), "France", List.of(0.0, 0.0, 5.0))),
        List.of("Do you like \"quotes\", commas?", List.of("Yes", "No"), Map.of("France", List.of(2.0, 1.0)))),
        contents(loaded));
  }

  @Test
  void missingOrNullOptionsAndSharesReadAsEmpty() throws IOException {
    Path file = write("sparse.jsonl", """
        {"question": "Q1?", "options": null, "selections": {"Germany": [0.5, 0.5]}}
        {"question": "Q2?", "options": "", "selections": "defaultdict(<class 'list'>, {})"}
        {"question": "Q3?", "options": ["Yes", "No"], "selections": {"Germany": null, "France": []}}
        """);
    List<SurveyQuestion> questions = SurveyReader.read(file, SurveyReader.Format.JSON, false).questions();
    assertEquals(List.of(), questions.get(0).options());
    assertEquals(List.of(0.5, 0.5), questions.get(0).selections().get("Germany"), "no options to check them against");
    assertEquals(Map.of(), questions.get(1).selections());
    assertEquals(Map.of("Germany", List.of(), "France", List.of()), questions.get(2).selections());
  }

  @Test
  void lengthMismatchNamesTheRecordAndGroup() throws IOException {
    Path file = write("opinions.json", """
        [
          {"question": "Q1?", "options": ["Yes", "No"], "selections": {"Germany": [0.3, 0.7]}},
          {"question": "Q2?", "options": "['Yes', 'No']", "selections": "{'Germany': [0.2, 0.3, 0.5]}"}
        ]
        """);
    assertEquals(file + ":3 (record 2): group \"Germany\" has 3 shares for 2 options [Yes, No]; each group needs "
        + "one share per option, in option order", problem(file, SurveyReader.Format.JSON));
  }

  @Test
  void negativeSharesAreRefusedInEveryLayout() throws IOException {
    Path json = write("negative.jsonl", "{\"question\": \"Q?\", \"options\": [\"Yes\", \"No\"], "
        + "\"selections\": {\"Germany\": [0.3, -0.7]}}\n");
    assertEquals(json + ":1 (record 1): group \"Germany\" has share -0.7 for option 2 (\"No\"); shares must be finite "
        + "and >= 0", problem(json, SurveyReader.Format.JSON));
    Path csv = write("negative.csv", "question,option,group,share\nQ?,Yes,Germany,0.3\nQ?,No,Germany,-0.2\n");
    assertEquals(csv + ":3 (row 2): column share: -0.2 is negative; shares must be finite and >= 0",
        problem(csv, SurveyReader.Format.CSV));
    Path nan = write("nan.jsonl", "{\"question\": \"Q?\", \"options\": \"['Yes', 'No']\", "
        + "\"selections\": \"{'Germany': [nan, 0.7]}\"}\n");
    assertTrue(problem(nan, SurveyReader.Format.JSON).contains("has share NaN for option 1 (\"Yes\")"));
  }

  @Test
  void badLiteralsNameTheRecordFieldAndPlace() throws IOException {
    Path file = write("opinions.jsonl", JSON.writeValueAsString(PYTHON_LITERAL_RECORDS.getFirst()) + "\n"
        + JSON.writeValueAsString(Map.of("question", "Q?", "options", "['Yes', 'No'",
            "selections", "{'Germany': [0.3, 0.7]}")) + "\n");
    assertEquals(file + ":2 (record 2): field \"options\" is not a JSON or Python literal: expected ',' or ']' at "
        + "character 13 (found the end of the text); expected e.g. ['Yes', 'No']",
        problem(file, SurveyReader.Format.JSON));

    Path selections = write("selections.jsonl", JSON.writeValueAsString(Map.of("question", "Q?",
        "options", "['Yes', 'No']", "selections", "defaultdict(<class 'list'>, {'Germany': ['a', 0.7]})")) + "\n");
    assertEquals(selections + ":1 (record 1): selections: share 1 of group \"Germany\" is a string; shares must be "
        + "numbers", problem(selections, SurveyReader.Format.JSON));

    Path missing = write("missing.jsonl", "{\"question\": \"Q?\", \"options\": [\"Yes\", \"No\"]}\n");
    assertTrue(problem(missing, SurveyReader.Format.JSON).startsWith(missing + ":1 (record 1): field \"selections\" "
        + "is missing"));
    Path notObject = write("array.json", "[[\"Q?\"]]");
    assertTrue(problem(notObject, SurveyReader.Format.JSON).startsWith(notObject + ":1 (record 1): expected an "
        + "object with \"question\", \"options\" and \"selections\", got a list"));
  }

  @Test
  void csvWithoutANeededColumnIsRefusedWithTheExpectedHeader() throws IOException {
    Path file = write("opinions.csv", "question,option,share\nQ?,Yes,0.3\n");
    String message = problem(file, SurveyReader.Format.CSV);
    assertTrue(message.startsWith(file + ": no column \"group\" in the header [question, option, share]; expected "
        + "question,option,group,share"), message);
    Path both = write("both.csv", "question,option,group,share,count\nQ?,Yes,G,0.3,3\n");
    assertEquals(both + ": has both a share and a count column; keep one", problem(both, SurveyReader.Format.CSV));
    Path wide = write("wide.csv", "question,selections\nQ?,{}\n");
    assertTrue(problem(wide, SurveyReader.Format.CSV).contains("no column \"options\""));
  }

  @Test
  void csvProblemsNameTheLineTheirRowStartsOn() throws IOException {
    Path file = write("multiline.csv", "question,option,group,share\n\"A question\nover two lines?\",Yes,G,0.4\n"
        + "\"A question\nover two lines?\",No,G,0.6\nQ?,Yes,G,-1\n");
    assertEquals(file + ":6 (row 3): column share: -1 is negative; shares must be finite and >= 0",
        problem(file, SurveyReader.Format.CSV));
    Path wide = write("wide.csv",
        "question,options,selections\nQ?,['Yes'],{}\nQ?,\"['Yes', 'No']\",\"{'G': [1]}\",x\n");
    String message = problem(wide, SurveyReader.Format.CSV);
    assertTrue(message.startsWith(wide + ":3: not valid CSV: Too many entries"), message);
  }

  @Test
  void duplicateLongRowsAreRefused() throws IOException {
    Path file = write("dup.csv", "question,option,group,share\nQ?,Yes,G,0.3\nQ?,No,G,0.7\nQ?,Yes,G,0.4\n");
    assertEquals(file + ":4 (row 3): a second row for option \"Yes\" and group \"G\" of this question (the first is "
        + "on line 2); keep one row per question, option and group", problem(file, SurveyReader.Format.CSV));
  }

  @Test
  void malformedFilesAndEmptyOnes() throws IOException {
    Path broken = write("broken.jsonl", "{\"question\": \"Q?\",\n \"options\": [\"Yes\" \"No\"]}\n");
    String message = problem(broken, SurveyReader.Format.JSON);
    assertTrue(message.startsWith(broken + ":2: not valid JSON: Unexpected character ('\"' (code 34)): "
        + "was expecting comma to separate Array entries"), message);
    Path empty = write("empty.json", "  \n");
    assertEquals(empty + ": no survey questions in the file", problem(empty, SurveyReader.Format.JSON));
    Path headerOnly = write("header.csv", "question,option,group,share\n");
    assertEquals(headerOnly + ": no survey questions in the file", problem(headerOnly, SurveyReader.Format.CSV));
    Path nothing = write("nothing.csv", "");
    String noHeader = problem(nothing, SurveyReader.Format.CSV);
    assertTrue(noHeader.startsWith(nothing + ": empty file; expected a CSV header"), noHeader);
    assertThrows(NoSuchFileException.class,
        () -> SurveyReader.read(dir.resolve("absent.json"), SurveyReader.Format.JSON, false));
  }

  @Test
  void badRecordsCanBeLeftOutAndCounted() throws IOException {
    Path file = write("mixed.jsonl", JSON.writeValueAsString(PYTHON_LITERAL_RECORDS.getFirst()) + "\n"
        + "{\"question\": \"\", \"options\": [\"Yes\", \"No\"], \"selections\": {}}\n"
        + "{\"question\": \"Q?\", \"options\": [\"Yes\", \"No\"], \"selections\": {\"G\": [1, 2, 3]}}\n"
        + JSON.writeValueAsString(PYTHON_LITERAL_RECORDS.get(1)) + "\n");
    SurveyReader.Loaded loaded = SurveyReader.read(file, SurveyReader.Format.JSON, true);
    assertEquals(EXPECTED, contents(loaded));
    assertEquals(2, loaded.badRecords());
    assertEquals(List.of(file + ":2 (record 2): the question text is empty",
        file + ":3 (record 3): group \"G\" has 3 shares for 2 options [Yes, No]; each group needs one share per "
            + "option, in option order"), loaded.firstProblems());

    Path csv = write("mixed.csv", "question,option,group,share\nQ1?,Yes,G,0.3\nQ1?,No,G,x\nQ2?,Yes,G,1\n"
        + "Q2?,No,G,0\n");
    SurveyReader.Loaded fromCsv = SurveyReader.read(csv, SurveyReader.Format.CSV, true);
    assertEquals(List.of("Q2?"), fromCsv.questions().stream().map(SurveyQuestion::question).toList(),
        "a bad row leaves out its whole question");
    assertEquals(List.of(csv + ":3 (row 2): column share: \"x\" is not a number"), fromCsv.firstProblems());
  }

  @Test
  void formatFollowsTheExtension() {
    assertEquals(Optional.of(SurveyReader.Format.JSON), SurveyReader.Format.ofFile(Path.of("a/b.json")));
    assertEquals(Optional.of(SurveyReader.Format.JSON), SurveyReader.Format.ofFile(Path.of("b.JSONL")));
    assertEquals(Optional.of(SurveyReader.Format.JSON), SurveyReader.Format.ofFile(Path.of("b.ndjson")));
    assertEquals(Optional.of(SurveyReader.Format.CSV), SurveyReader.Format.ofFile(Path.of("global_opinions.csv")));
    assertEquals(Optional.empty(), SurveyReader.Format.ofFile(Path.of("opinions.txt")));
    assertEquals(Optional.empty(), SurveyReader.Format.ofFile(Path.of("csv")));
  }

  private static String problem(Path file, SurveyReader.Format format) {
    return assertThrows(DataFormatException.class, () -> SurveyReader.read(file, format, false)).getMessage();
  }
}
