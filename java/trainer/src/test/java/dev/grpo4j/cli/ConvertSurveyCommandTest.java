package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.grpo4j.text.PreferenceData;
import dev.grpo4j.text.PreferenceRecord;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code grpo4j convert-survey} end to end: outputs the trainer reads, per-group splits, seeds, bad input. */
class ConvertSurveyCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> TWO = List.of("Yes", "No");
  private static final List<String> FOUR = List.of("Very good", "Somewhat good", "Somewhat bad", "Very bad");

  @TempDir
  Path tmp;

  /**
   * GlobalOpinionQA-style JSON Lines with Python literals: 10 questions, alternately 2 and 4 options; Germany answers
   * all 10, France the first 3, Japan the first 2. Germany's most frequent answer to question i is option i mod k,
   * France's and Japan's the last option.
   */
  private Path survey() throws IOException {
    StringBuilder lines = new StringBuilder();
    for (int q = 0; q < 10; q++) {
      List<String> options = q % 2 == 0 ? TWO : FOUR;
      int k = options.size();
      StringBuilder selections = new StringBuilder("defaultdict(<class 'list'>, {'Germany': " + shares(k, q % k));
      if (q < 3) {
        selections.append(", 'France': ").append(shares(k, k - 1));
      }
      if (q < 2) {
        selections.append(", 'Japan': ").append(shares(k, k - 1));
      }
      selections.append("})");
      Map<String, Object> record = new LinkedHashMap<>();
      record.put("question", "Question " + q + "?");
      record.put("selections", selections.toString());
      record.put("options", "['" + String.join("', '", options) + "']");
      record.put("source", "GAS");
      lines.append(JSON.writeValueAsString(record)).append('\n');
    }
    return Files.writeString(tmp.resolve("global_opinions.jsonl"), lines.toString());
  }

  /** Python list text of k shares with the largest at {@code top}. */
  private static String shares(int k, int top) {
    List<String> values = new ArrayList<>();
    for (int i = 0; i < k; i++) {
      values.add(i == top ? "0.6" : String.valueOf(0.4 / (k - 1)));
    }
    return "[" + String.join(", ", values) + "]";
  }

  private static String prompt(String group, int q) {
    List<String> options = q % 2 == 0 ? TWO : FOUR;
    StringBuilder p = new StringBuilder("Opinion of people in " + group + " on: Question " + q + "?\n"
        + "Please select the best response:");
    for (int i = 0; i < options.size(); i++) {
      p.append('\n').append((char) ('A' + i)).append(". ").append(options.get(i));
    }
    return p.append("\nAnswer:").toString();
  }

  private static List<PreferenceRecord> records(Path file) throws IOException {
    return PreferenceData.readJsonl(file, false).records();
  }

  @Test
  void convertsGlobalOpinionQaIntoPairsTheTrainerReadsSplitPerGroup() throws IOException {
    Path out = tmp.resolve("goqa");
    CliRun run = CliRun.of("convert-survey", "--input", survey().toString(), "--out", out.toString());
    assertEquals(0, run.exitCode(), run.err());

    Map<String, String> expectedChosen = new HashMap<>();
    for (int q = 0; q < 10; q++) {
      int k = q % 2 == 0 ? 2 : 4;
      expectedChosen.put(prompt("Germany", q), " " + (char) ('A' + q % k));
      if (q < 3) {
        expectedChosen.put(prompt("France", q), " " + (char) ('A' + k - 1));
      }
      if (q < 2) {
        expectedChosen.put(prompt("Japan", q), " " + (char) ('A' + k - 1));
      }
    }
    List<PreferenceRecord> all = new ArrayList<>();
    for (String part : List.of("train", "validation", "test")) {
      all.addAll(records(out.resolve(part + ".jsonl")));
    }
    assertEquals(15, all.size());
    assertEquals(expectedChosen.keySet(), all.stream().map(r -> r.prompt().toString())
        .collect(Collectors.toSet()), "one pair per question and group with answers");
    for (PreferenceRecord r : all) {
      String prompt = r.prompt().toString();
      assertEquals(expectedChosen.get(prompt), r.chosen().toString(), prompt);
      assertNotEquals(r.chosen(), r.rejected(), prompt);
      int k = prompt.contains("D. Very bad") ? 4 : 2;
      String rejected = r.rejected().toString();
      assertTrue(Pattern.matches(" [A-" + (char) ('A' + k - 1) + "]", rejected), rejected);
      assertTrue(prompt.startsWith("Opinion of people in " + r.group() + " on: "), prompt);
    }
    PreferenceRecord germanyFirst = all.stream().filter(r -> r.prompt().toString().equals(prompt("Germany", 0)))
        .findFirst().orElseThrow();
    assertEquals("Opinion of people in Germany on: Question 0?\nPlease select the best response:\nA. Yes\nB. No\n"
        + "Answer:", germanyFirst.prompt().toString());
    assertEquals(" A", germanyFirst.chosen().toString());
    assertEquals(" B", germanyFirst.rejected().toString(), "a 2-option question's rejected letter is the other one");

    JsonNode groups = JSON.readTree(out.resolve("groups.json").toFile());
    assertEquals(counts(8, 1, 1), groups.get("groups").get("Germany"));
    assertEquals(counts(1, 1, 1), groups.get("groups").get("France"));
    assertEquals(counts(2, 0, 0), groups.get("groups").get("Japan"));
    assertEquals(counts(11, 2, 2), groups.get("total"));
    assertEquals(0, groups.get("seed").asLong());
    assertEquals(80, groups.get("split").get("train").asInt());
    assertEquals(11, records(out.resolve("train.jsonl")).size());
    assertEquals(2, records(out.resolve("test.jsonl")).size());

    assertTrue(Pattern.compile("(?m)^Germany +10 +8 +1 +1$").matcher(run.out()).find(), run.out());
    assertTrue(Pattern.compile("(?m)^France +3 +1 +1 +1$").matcher(run.out()).find(), run.out());
    assertTrue(Pattern.compile("(?m)^Japan +2 +2 +0 +0 +\\(too few pairs to split: all train\\)$")
        .matcher(run.out()).find(), run.out());
    assertTrue(Pattern.compile("(?m)^total +15 +11 +2 +2$").matcher(run.out()).find(), run.out());
    assertTrue(run.err().contains("warning: group \"Japan\" has 2 pairs, fewer than the 3 that --split 80,10,10 "
        + "needs to put one in every part; all go to train"), run.err());
    assertTrue(run.err().contains("read 10 questions from " + tmp.resolve("global_opinions.jsonl") + " (json)"),
        run.err());
  }

  private static JsonNode counts(int train, int validation, int test) {
    return JSON.createObjectNode().put("train", train).put("validation", validation).put("test", test);
  }

  @Test
  void sameSeedSameFilesAnotherSeedOtherPairs() throws IOException {
    Path input = survey();
    for (String name : List.of("a", "b")) {
      assertEquals(0, CliRun.of("convert-survey", "--input", input.toString(), "--out", tmp.resolve(name).toString(),
          "--seed", "7").exitCode());
    }
    assertEquals(0, CliRun.of("convert-survey", "--input", input.toString(), "--out", tmp.resolve("c").toString(),
        "--seed", "8").exitCode());
    boolean differs = false;
    for (String file : List.of("train.jsonl", "validation.jsonl", "test.jsonl", "groups.json")) {
      byte[] a = Files.readAllBytes(tmp.resolve("a").resolve(file));
      assertArrayEquals(a, Files.readAllBytes(tmp.resolve("b").resolve(file)), file);
      differs |= !Arrays.equals(a, Files.readAllBytes(tmp.resolve("c").resolve(file)));
    }
    assertTrue(differs, "seed 8 gives other rejected letters or another split than seed 7");
    assertNotEquals(Files.readString(tmp.resolve("a/test.jsonl")) + Files.readString(tmp.resolve("a/train.jsonl")),
        Files.readString(tmp.resolve("c/test.jsonl")) + Files.readString(tmp.resolve("c/train.jsonl")));
  }

  @Test
  void longCsvWithCountsOrSharesAndABareLetter() throws IOException {
    String rows = """
        question,option,group,%s
        Do you support the death penalty?,Yes,Germany,%s
        Do you support the death penalty?,No,Germany,%s
        How good is the economy?,Very good,Germany,%s
        How good is the economy?,Somewhat good,Germany,%s
        How good is the economy?,Somewhat bad,Germany,%s
        How good is the economy?,Very bad,Germany,%s
        How good is the economy?,Very bad,France,%s
        """;
    Path counts = Files.writeString(tmp.resolve("counts.csv"), rows.formatted("count", 30, 70, 10, 40, 40, 10, 3));
    Path shares = Files.writeString(tmp.resolve("shares.csv"),
        rows.formatted("share", 0.3, 0.7, 0.1, 0.4, 0.4, 0.1, 0.03));
    for (Path input : List.of(counts, shares)) {
      Path out = tmp.resolve("out-" + input.getFileName());
      CliRun run = CliRun.of("convert-survey", "--input", input.toString(), "--out", out.toString(),
          "--split", "100,0,0", "--letter-prefix", "");
      assertEquals(0, run.exitCode(), run.err());
      List<PreferenceRecord> train = records(out.resolve("train.jsonl"));
      assertEquals(List.of(
          "Opinion of people in Germany on: Do you support the death penalty?\nPlease select the best response:\n"
              + "A. Yes\nB. No\nAnswer:",
          "Opinion of people in Germany on: How good is the economy?\nPlease select the best response:\n"
              + "A. Very good\nB. Somewhat good\nC. Somewhat bad\nD. Very bad\nAnswer:",
          "Opinion of people in France on: How good is the economy?\nPlease select the best response:\n"
              + "A. Very good\nB. Somewhat good\nC. Somewhat bad\nD. Very bad\nAnswer:"),
          train.stream().map(r -> r.prompt().toString()).toList(), "input order");
      assertEquals(List.of("B", "B", "D"), train.stream().map(r -> r.chosen().toString()).toList(),
          "the 40/40 tie goes to B; France's missing rows are zeros");
      assertEquals("A", train.getFirst().rejected().toString());
      assertEquals(List.of("Germany", "Germany", "France"), train.stream().map(PreferenceRecord::group).toList());
      assertEquals(0, Files.size(out.resolve("validation.jsonl")));
      assertEquals(0, Files.size(out.resolve("test.jsonl")));
      assertFalse(run.err().contains("warning"), run.err());
    }
  }

  @Test
  void groupsAndMaxQuestionsNarrowTheInput() throws IOException {
    Path input = survey();
    Path out = tmp.resolve("narrow");
    CliRun run = CliRun.of("convert-survey", "--input", input.toString(), "--out", out.toString(),
        "--groups", "Japan, Germany", "--max-questions", "4");
    assertEquals(0, run.exitCode(), run.err());
    JsonNode groups = JSON.readTree(out.resolve("groups.json").toFile()).get("groups");
    assertEquals(List.of("Germany", "Japan"), iterable(groups.fieldNames()));
    assertEquals(counts(2, 1, 1), groups.get("Germany"));
    assertEquals(counts(2, 0, 0), groups.get("Japan"));

    CliRun absent = CliRun.of("convert-survey", "--input", input.toString(), "--out", tmp.resolve("x").toString(),
        "--groups", "Germany,Atlantis");
    assertEquals(1, absent.exitCode());
    assertTrue(absent.err().contains("grpo4j convert-survey: error: --groups: group \"Atlantis\" is not in "
        + input + "; its groups are France, Germany, Japan (names must match exactly, case included)\n"),
        absent.err());
    CliRun later = CliRun.of("convert-survey", "--input", input.toString(), "--out", tmp.resolve("x").toString(),
        "--groups", "France", "--max-questions", "1", "--groups", "Germany");
    assertEquals(0, later.exitCode(), later.err());
    JsonNode first = JSON.readTree(tmp.resolve("x/groups.json").toFile());
    assertEquals(counts(1, 0, 0), first.get("groups").get("France"), "one question: too few pairs to split");
    assertEquals(counts(1, 0, 0), first.get("groups").get("Germany"));
    assertEquals(0, Files.size(tmp.resolve("x/test.jsonl")));
  }

  @Test
  void aQuotedGroupNameMayHoldACommaInGroups() throws IOException {
    Path input = Files.writeString(tmp.resolve("korea.jsonl"), "{\"question\": \"Q?\", \"options\": [\"Yes\", "
        + "\"No\"], \"selections\": {\"Korea, South\": [0.3, 0.7], \"France\": [0.6, 0.4], \"Germany\": [1, 0]}}\n");
    Path out = tmp.resolve("korea");
    CliRun run = CliRun.of("convert-survey", "--input", input.toString(), "--out", out.toString(),
        "--groups", "\"Korea, South\",France");
    assertEquals(0, run.exitCode(), run.err());
    assertEquals(List.of("Korea, South", "France"),
        records(out.resolve("train.jsonl")).stream().map(PreferenceRecord::group).toList());
  }

  private static List<String> iterable(Iterator<String> names) {
    List<String> list = new ArrayList<>();
    names.forEachRemaining(list::add);
    return list;
  }

  @Test
  void nonEmptyOutputFoldersAreRefusedUnlessOverwritingAnEarlierConversion() throws IOException {
    Path input = survey();
    Path out = Files.createDirectories(tmp.resolve("out"));
    Path notes = Files.writeString(out.resolve("notes.txt"), "mine");
    CliRun refused = CliRun.of("convert-survey", "--input", input.toString(), "--out", out.toString());
    assertEquals(1, refused.exitCode());
    assertEquals("grpo4j convert-survey: error: --out " + out + " is not empty (it holds notes.txt); pass "
        + "--overwrite to replace an earlier conversion, or choose a new or empty folder\n", refused.err());
    CliRun foreign = CliRun.of("convert-survey", "--input", input.toString(), "--out", out.toString(),
        "--overwrite");
    assertEquals(1, foreign.exitCode());
    assertTrue(foreign.err().contains("holds files convert-survey does not write (notes.txt)"), foreign.err());
    assertEquals("mine", Files.readString(notes));
    assertFalse(Files.exists(out.resolve("train.jsonl")));

    Files.delete(notes);
    assertEquals(0, CliRun.of("convert-survey", "--input", input.toString(), "--out", out.toString()).exitCode(),
        "an empty folder is fine");
    CliRun again = CliRun.of("convert-survey", "--input", input.toString(), "--out", out.toString(), "--seed", "3");
    assertEquals(1, again.exitCode());
    assertTrue(again.err().contains("is not empty (it holds groups.json, test.jsonl, train.jsonl, "
        + "validation.jsonl)"), again.err());
    CliRun overwritten = CliRun.of("convert-survey", "--input", input.toString(), "--out", out.toString(), "--seed",
        "3", "--overwrite");
    assertEquals(0, overwritten.exitCode(), overwritten.err());
    assertEquals(3, JSON.readTree(out.resolve("groups.json").toFile()).get("seed").asInt());
    try (var listing = Files.list(tmp)) {
      assertEquals(List.of(), listing.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList(),
          "no staging folder is left behind");
    }

    Path file = Files.writeString(tmp.resolve("file"), "x");
    CliRun onFile = CliRun.of("convert-survey", "--input", input.toString(), "--out", file.toString());
    assertEquals(1, onFile.exitCode());
    assertTrue(onFile.err().contains("--out " + file + " is a file; choose a folder"), onFile.err());
  }

  @Test
  void badOptionsAreUsageErrors() throws IOException {
    Path input = survey();
    Path out = tmp.resolve("out");
    CliRun format = CliRun.of("convert-survey", "--input", input.toString(), "--out", out.toString(),
        "--format", "xml");
    assertEquals(2, format.exitCode());
    assertTrue(format.err().contains("Invalid value for option '--format'"), format.err());

    Path txt = Files.copy(input, tmp.resolve("opinions.txt"));
    CliRun unknown = CliRun.of("convert-survey", "--input", txt.toString(), "--out", out.toString());
    assertEquals(2, unknown.exitCode());
    assertTrue(unknown.err().contains("--input " + txt + ": cannot tell the format from the file name; name it "
        + ".json, .jsonl, .ndjson or .csv, or pass --format json or --format csv"), unknown.err());

    CliRun sum = CliRun.of("convert-survey", "--input", input.toString(), "--out", out.toString(),
        "--split", "80,30,10");
    assertEquals(2, sum.exitCode());
    assertTrue(sum.err().contains("Invalid value for option '--split': split 80,30,10: the train, validation and "
        + "test percentages must add up to 100, not 120, e.g. 80,10,10"), sum.err());
    CliRun two = CliRun.of("convert-survey", "--input", input.toString(), "--out", out.toString(),
        "--split", "90,10");
    assertEquals(2, two.exitCode());

    CliRun zero = CliRun.of("convert-survey", "--input", input.toString(), "--out", out.toString(),
        "--max-questions", "0");
    assertEquals(2, zero.exitCode());
    assertTrue(zero.err().contains("--max-questions must be at least 1, got 0"), zero.err());
    assertFalse(Files.exists(out), "nothing written on a usage error");

    CliRun explicit = CliRun.of("convert-survey", "--input", txt.toString(), "--out", out.toString(),
        "--format", "JSON");
    assertEquals(0, explicit.exitCode(), explicit.err());
  }

  @Test
  void badInputsFailWithOneLineNamingTheRecordAndNoOutput() throws IOException {
    Path out = tmp.resolve("out");
    Path mismatch = Files.writeString(tmp.resolve("mismatch.jsonl"), """
        {"question": "Q1?", "options": "['Yes', 'No']", "selections": "{'Germany': [0.3, 0.7]}"}
        {"question": "Q2?", "options": "['Yes', 'No']", "selections": "{'Germany': [0.2, 0.3, 0.5]}"}
        """);
    assertEquals("grpo4j convert-survey: error: " + mismatch + ":2 (record 2): group \"Germany\" has 3 shares for 2 "
        + "options [Yes, No]; each group needs one share per option, in option order\n", failure(mismatch, out));

    Path negative = Files.writeString(tmp.resolve("negative.csv"), """
        question,option,group,share
        Q?,Yes,Germany,0.3
        Q?,No,Germany,-0.7
        """);
    assertTrue(failure(negative, out).startsWith("grpo4j convert-survey: error: " + negative + ":3 (row 2): column "
        + "share: -0.7 is negative; shares must be finite and >= 0"));

    Path noColumn = Files.writeString(tmp.resolve("nocolumn.csv"), "question,option,share\nQ?,Yes,0.3\n");
    assertTrue(failure(noColumn, out).startsWith("grpo4j convert-survey: error: " + noColumn + ": no column "
        + "\"group\" in the header [question, option, share]"));

    Path nothingUsable = Files.writeString(tmp.resolve("nothing.jsonl"), """
        {"question": "Q1?", "options": "['Refused']", "selections": "{'Germany': [1.0]}"}
        {"question": "Q2?", "options": "['Yes', 'No']", "selections": "{'Germany': [0, 0]}"}
        """);
    CliRun skipped = CliRun.of("convert-survey", "--input", nothingUsable.toString(), "--out", out.toString());
    assertEquals(1, skipped.exitCode());
    assertTrue(skipped.err().endsWith("skipped 2 question/group combinations: 1 where the question has fewer than 2 "
        + "options, 1 with no answers (shares empty or all zero)\n"
        + "grpo4j convert-survey: error: " + nothingUsable + ": no preference pairs: every question/group "
        + "combination was skipped (fewer than 2 or more than 26 options, or no answers)\n"), skipped.err());

    CliRun missing = CliRun.of("convert-survey", "--input", tmp.resolve("absent.json").toString(), "--out",
        out.toString());
    assertEquals(1, missing.exitCode());
    assertTrue(missing.err().contains("grpo4j convert-survey: error: no such file: " + tmp.resolve("absent.json")),
        missing.err());
    assertFalse(Files.exists(out));
  }

  @Test
  void badRecordsCanBeSkipped() throws IOException {
    Path input = Files.writeString(tmp.resolve("mixed.jsonl"), """
        {"question": "Q1?", "options": "['Yes', 'No']", "selections": "{'Germany': [0.3, 0.7]}"}
        {"question": "Q2?", "options": "['Yes', 'No'", "selections": "{'Germany': [0.2, 0.8]}"}
        {"question": "Q3?", "options": "['Yes', 'No']", "selections": "{'Germany': [0.9, 0.1]}"}
        """);
    Path out = tmp.resolve("out");
    CliRun run = CliRun.of("convert-survey", "--input", input.toString(), "--out", out.toString(),
        "--skip-bad-records", "--split", "100,0,0");
    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.err().contains("left out 1 bad records, e.g. " + input + ":2 (record 2): field \"options\" is not "
        + "a JSON or Python literal"), run.err());
    assertEquals(List.of(" B", " A"), records(out.resolve("train.jsonl")).stream().map(r -> r.chosen().toString())
        .toList());
  }

  @Test
  void helpDocumentsThePromptAndTheLayouts() {
    CliRun top = CliRun.of("--help");
    assertEquals(0, top.exitCode());
    assertTrue(top.out().contains("convert-survey"), top.out());
    CliRun help = CliRun.of("convert-survey", "--help");
    assertEquals(0, help.exitCode());
    assertTrue(help.out().contains("""
          Opinion of people in {group} on: {question}
          Please select the best response:
          A. {option 1}
          B. {option 2}
          ...
          Answer:
        """), help.out());
    String words = help.out().replaceAll("\\s+", " ");
    for (String text : List.of("columns question, option, group, share (or count)", "defaultdict(<class 'list'>",
        "--letter-prefix", "--split", "--groups", "--max-questions", "--overwrite", "--seed", "--format",
        "--skip-bad-records")) {
      assertTrue(words.contains(text), text + " in\n" + help.out());
    }
  }

  private String failure(Path input, Path out) {
    CliRun run = CliRun.of("convert-survey", "--input", input.toString(), "--out", out.toString());
    assertEquals(1, run.exitCode(), run.err());
    assertFalse(Files.exists(out), "no output folder after a failure");
    assertEquals(1, run.err().lines().count(), run.err());
    return run.err();
  }
}
