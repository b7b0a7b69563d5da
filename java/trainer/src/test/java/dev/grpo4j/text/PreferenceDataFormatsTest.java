package dev.grpo4j.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.data.DataFormat;
import dev.grpo4j.data.DataFormatException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The data files Hugging Face datasets writes ({@code to_json}, {@code to_json(lines=False)}, {@code to_csv},
 * {@code to_parquet}; resources {@code dev/grpo4j/data/}, made by {@code write_fixtures.py} there) read to the same
 * records in TRL's three forms, and malformed files fail with {@code file:line} or {@code file row N}.
 */
class PreferenceDataFormatsTest {
  @TempDir
  Path tmp;

  private Path fixture(String name) {
    Path file = tmp.resolve(name);
    try (InputStream in = getClass().getResourceAsStream("/dev/grpo4j/data/" + name)) {
      Files.copy(in, file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return file;
  }

  private PreferenceData.Loaded read(String name, String groupField) throws IOException {
    return PreferenceData.read(fixture(name), new PreferenceData.ReadOptions(null, groupField, false));
  }

  private static Map<String, Object> message(String role, String content) {
    return Map.of("role", role, "content", content);
  }

  private static Content.Messages messages(Map<String, Object>... messages) {
    return new Content.Messages(List.of(messages));
  }

  @ParameterizedTest
  @ValueSource(strings = {"standard.jsonl", "standard.json", "standard.csv", "standard.parquet",
      "standard-gzip.parquet"})
  @SuppressWarnings("unchecked")
  void standardRecordsReadAlikeFromEveryFormat(String name) throws IOException {
    PreferenceData.Loaded loaded = read(name, "country");
    assertEquals(List.of(
        PreferenceRecord.ofText("Is tea healthy?", "In moderation, yes.", "No.", "UK", 2),
        PreferenceRecord.ofText("Café or tea?", "Tea, \"green\".", "Neither,\nreally.", "DE", 3),
        PreferenceRecord.ofText("Best month?", "May.", "None.", "UK", 4)).stream().map(r -> r.prompt()).toList(),
        loaded.records().stream().map(PreferenceRecord::prompt).toList());
    assertEquals(List.of("In moderation, yes.", "Tea, \"green\".", "May."),
        loaded.records().stream().map(r -> r.chosen().toString()).toList());
    assertEquals(List.of("No.", "Neither,\nreally.", "None."),
        loaded.records().stream().map(r -> r.rejected().toString()).toList());
    assertEquals(List.of("UK", "DE", "UK"), loaded.records().stream().map(PreferenceRecord::group).toList());
    assertTrue(loaded.grouped());
    assertFalse(loaded.conversational());
    assertEquals(DataFormat.ofFile(Path.of(name)), loaded.format());
  }

  @ParameterizedTest
  @ValueSource(strings = {"conversational.jsonl", "conversational.json", "conversational.csv",
      "conversational.parquet", "conversational-zstd.parquet"})
  @SuppressWarnings("unchecked")
  void conversationalRecordsReadAlikeFromEveryFormat(String name) throws IOException {
    PreferenceData.Loaded loaded = read(name, "country");
    assertTrue(loaded.conversational());
    assertFalse(loaded.implicitPrompt());
    List<PreferenceRecord> records = loaded.records();
    assertEquals(2, records.size());
    assertEquals(messages(message("user", "Is tea healthy?")), records.get(0).prompt());
    assertEquals(messages(message("assistant", "In moderation, yes.")), records.get(0).chosen());
    assertEquals(messages(message("assistant", "No.")), records.get(0).rejected());
    assertEquals(messages(message("system", "Answer briefly."), message("user", "Café or tea?")),
        records.get(1).prompt());
    assertEquals(messages(message("assistant", "Neither,\nreally.")), records.get(1).rejected());
    assertEquals(List.of("UK", "DE"), records.stream().map(PreferenceRecord::group).toList());
  }

  @ParameterizedTest
  @ValueSource(strings = {"implicit.jsonl", "implicit.json", "implicit.csv", "implicit.parquet"})
  @SuppressWarnings("unchecked")
  void implicitPromptsAreTheSharedStartOfTheConversations(String name) throws IOException {
    PreferenceData.Loaded loaded = read(name, PreferenceData.DEFAULT_GROUP_FIELD);
    assertTrue(loaded.implicitPrompt());
    assertFalse(loaded.grouped(), "no group field: one group");
    List<PreferenceRecord> records = loaded.records();
    assertEquals(messages(message("user", "Hi")), records.get(0).prompt());
    assertEquals(messages(message("assistant", "Hello!")), records.get(0).chosen());
    assertEquals(messages(message("assistant", "Go away.")), records.get(0).rejected());
    assertEquals(messages(message("user", "Tea?"), message("assistant", "Yes."), message("user", "Milk?")),
        records.get(1).prompt());
    assertEquals(messages(message("assistant", "Lots.")), records.get(1).rejected());
    assertEquals(List.of(PreferenceData.SINGLE_GROUP, PreferenceData.SINGLE_GROUP),
        records.stream().map(PreferenceRecord::group).toList());
  }

  @Test
  void withoutTheGroupFieldAFileIsOneGroup() throws IOException {
    PreferenceData.Loaded loaded = read("standard.parquet", PreferenceData.DEFAULT_GROUP_FIELD);
    assertFalse(loaded.grouped());
    assertEquals(List.of("all", "all", "all"), loaded.records().stream().map(PreferenceRecord::group).toList());
    assertEquals("standard, parquet, no group labels", loaded.describe());
  }

  @Test
  void parquetProblemsNameTheRow() throws IOException {
    Path file = fixture("missing-rejected.parquet");
    DataFormatException e = assertThrows(DataFormatException.class,
        () -> PreferenceData.read(file, new PreferenceData.ReadOptions(null, "country", false)));
    assertEquals(file + " row 2: field \"rejected\" is missing", e.getMessage());
    PreferenceData.Loaded skipped = PreferenceData.read(file, new PreferenceData.ReadOptions(null, "country", true));
    assertEquals(2, skipped.records().size());
    assertEquals(List.of(file + " row 2: field \"rejected\" is missing"), skipped.firstProblems());
  }

  @Test
  void aCodecGrpo4jDoesNotCarryIsNamedWithTheFix() {
    Path file = fixture("standard-brotli.parquet");
    DataFormatException e = assertThrows(DataFormatException.class,
        () -> PreferenceData.read(file, PreferenceData.ReadOptions.defaults()));
    assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
    assertTrue(e.getMessage().contains("compression='zstd'"), e.getMessage());
  }

  @Test
  void malformedJsonArrayElementsAndCsvRowsNameTheirLine() throws IOException {
    Path json = Files.writeString(tmp.resolve("pairs.json"), """
        [
          {"prompt": "p", "chosen": "c", "rejected": "r"},
          "not a record",
          {"prompt": "p", "chosen": "c"}
        ]
        """);
    PreferenceData.Loaded lenient = PreferenceData.read(json, new PreferenceData.ReadOptions(null, "group", true));
    assertEquals(1, lenient.records().size());
    assertEquals(List.of(json + ":3: expected a JSON object (one record, with \"chosen\", \"rejected\" and usually "
        + "\"prompt\"), got a string", json + ":4: field \"rejected\" is missing"), lenient.firstProblems());

    Path csv = Files.writeString(tmp.resolve("pairs.csv"), """
        prompt,chosen,rejected,group
        p,c,r,a
        "multi
        line prompt",c,,b
        """);
    DataFormatException e = assertThrows(DataFormatException.class,
        () -> PreferenceData.read(csv, PreferenceData.ReadOptions.defaults()));
    assertEquals(csv + ":3: field \"rejected\" is missing", e.getMessage(), "the line the record starts on");

    Path implicit = Files.writeString(tmp.resolve("implicit.jsonl"), """
        {"chosen": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "c"}], \
        "rejected": [{"role": "user", "content": "b"}, {"role": "assistant", "content": "r"}]}
        """);
    DataFormatException noPrompt = assertThrows(DataFormatException.class,
        () -> PreferenceData.read(implicit, PreferenceData.ReadOptions.defaults()));
    assertEquals(implicit + ":1: no \"prompt\", and the first messages of \"chosen\" and \"rejected\" differ, so "
        + "no prompt can be taken from them: add a \"prompt\" list of messages", noPrompt.getMessage());

    Path broken = Files.writeString(tmp.resolve("broken.json"), "[{\"prompt\": \"p\",\n \"chosen\": }]");
    DataFormatException bad = assertThrows(DataFormatException.class,
        () -> PreferenceData.read(broken, PreferenceData.ReadOptions.defaults()));
    assertTrue(bad.getMessage().startsWith(broken + ":2: not valid JSON"), bad.getMessage());

    Path scalar = Files.writeString(tmp.resolve("scalar.json"), "\"pairs\"\n");
    DataFormatException notArray = assertThrows(DataFormatException.class,
        () -> PreferenceData.read(scalar, PreferenceData.ReadOptions.defaults()));
    assertTrue(notArray.getMessage().contains("expected a JSON array of records"), notArray.getMessage());
  }

  @Test
  void jsonLinesNamedJsonAndCsvWithAByteOrderMarkAreRead() throws IOException {
    // What datasets' to_json("pairs.json") writes by default: JSON Lines, whatever the extension says.
    Path lines = Files.writeString(tmp.resolve("lines.json"),
        "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": \"a\"}\n"
            + "{\"prompt\": \"q\", \"chosen\": \"d\", \"rejected\": \"s\", \"group\": \"b\"}\n");
    PreferenceData.Loaded fromLines = PreferenceData.read(lines, PreferenceData.ReadOptions.defaults());
    assertEquals(List.of(PreferenceRecord.ofText("p", "c", "r", "a", 1),
        PreferenceRecord.ofText("q", "d", "s", "b", 2)), fromLines.records());
    assertEquals(fromLines.records(), PreferenceData.read(lines,
        new PreferenceData.ReadOptions(DataFormat.JSON, "group", false)).records(), "--format json: the same");
    DataFormatException badLine = assertThrows(DataFormatException.class, () -> PreferenceData.read(
        Files.writeString(tmp.resolve("bad-lines.json"), "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}\n"
            + "{\"prompt\": \"q\",\n"), PreferenceData.ReadOptions.defaults()));
    assertTrue(badLine.getMessage().contains("bad-lines.json:2: not valid JSON"), badLine.getMessage());

    // Excel's "CSV UTF-8" starts with a byte order mark, which is not part of the first column's name.
    byte[] csv = "prompt,chosen,rejected,group\np,c,r,a\n".getBytes(StandardCharsets.UTF_8);
    byte[] withMark = new byte[csv.length + 3];
    withMark[0] = (byte) 0xEF;
    withMark[1] = (byte) 0xBB;
    withMark[2] = (byte) 0xBF;
    System.arraycopy(csv, 0, withMark, 3, csv.length);
    Path excel = Files.write(tmp.resolve("excel.csv"), withMark);
    assertEquals(List.of(PreferenceRecord.ofText("p", "c", "r", "a", 2)),
        PreferenceData.read(excel, PreferenceData.ReadOptions.defaults()).records());
    Path markedJson = Files.write(tmp.resolve("marked.json"), ("\uFEFF[{\"prompt\": \"p\", \"chosen\": \"c\", "
        + "\"rejected\": \"r\", \"group\": \"a\"}]").getBytes(StandardCharsets.UTF_8));
    assertEquals(1, PreferenceData.read(markedJson, PreferenceData.ReadOptions.defaults()).records().size());
  }

  @Test
  void formatsComeFromTheExtensionOrTheOption() {
    assertEquals(DataFormat.PARQUET, DataFormat.ofFile(Path.of("train-00000-of-00001.parquet")));
    assertEquals(DataFormat.JSONL, DataFormat.ofFile(Path.of("x.NDJSON")));
    assertEquals(DataFormat.CSV, DataFormat.named("CSV"));
    IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
        () -> DataFormat.ofFile(Path.of("data.txt")));
    assertTrue(unknown.getMessage().contains("--format jsonl|json|csv|parquet"), unknown.getMessage());
    assertThrows(IllegalArgumentException.class, () -> DataFormat.named("xml"));
  }

  @Test
  void oneFormPerFile() throws IOException {
    Path mixed = Files.writeString(tmp.resolve("mixed.jsonl"), """
        {"prompt": "p", "chosen": "c", "rejected": "r"}
        {"prompt": [{"role": "user", "content": "p"}], "chosen": [{"role": "assistant", "content": "c"}], \
        "rejected": [{"role": "assistant", "content": "r"}]}
        {"chosen": "same start, c", "rejected": "same start, r"}
        """);
    PreferenceData.Loaded loaded = PreferenceData.read(mixed, new PreferenceData.ReadOptions(null, "group", true));
    assertEquals(List.of(
        mixed + ":2: \"chosen\" is a list of messages but the first record (line 1) has text: use one form for every "
            + "record of a file",
        mixed + ":3: field \"prompt\" is missing (the first record, line 1, has one; a file gives every record a "
            + "prompt, or none)"), loaded.firstProblems());

    String assistant = "[{\"role\": \"assistant\", \"content\": \"c\"}]";
    Path badMessages = Files.write(tmp.resolve("messages.jsonl"), List.of(
        "{\"prompt\": [{\"content\": \"p\"}], \"chosen\": " + assistant + ", \"rejected\": " + assistant + "}",
        "{\"prompt\": [{\"role\": \"user\", \"content\": \"p\"}], \"chosen\": [], \"rejected\": " + assistant + "}",
        "{\"prompt\": [{\"role\": \"user\"}], \"chosen\": " + assistant + ", \"rejected\": " + assistant + "}",
        "{\"prompt\": [{\"role\": \"user\", \"content\": \"p\"}], \"chosen\": " + assistant + ", \"rejected\": "
            + assistant + "}"));
    PreferenceData.Loaded bad = PreferenceData.read(badMessages, new PreferenceData.ReadOptions(null, "group", true));
    assertEquals(1, bad.records().size());
    assertTrue(bad.firstProblems().get(0).endsWith(":1: message 1 of \"prompt\" needs a non-empty string \"role\" "
        + "(user, assistant, system, ...)"), bad.firstProblems().get(0));
    assertTrue(bad.firstProblems().get(1).endsWith(":2: field \"chosen\" is an empty list of messages"),
        bad.firstProblems().get(1));
    assertTrue(bad.firstProblems().get(2).endsWith(":3: message 1 of \"prompt\" has no \"content\""),
        bad.firstProblems().get(2));
  }

  @Test
  void implicitTextPromptsSplitAsTrlDoes() throws IOException {
    // TRL's extract_prompt on these (see dev/grpo4j/chat/goldens.json, implicit_prompts).
    Path file = Files.writeString(tmp.resolve("text.jsonl"), """
        {"chosen": "Human: Is tea healthy? Assistant: Yes.", "rejected": "Human: Is tea healthy? Assistant: No."}
        {"chosen": "Question: tea? Yes", "rejected": "Question: tea? Yes, always"}
        {"chosen": "A", "rejected": "B"}
        """);
    PreferenceData.Loaded loaded = PreferenceData.read(file, new PreferenceData.ReadOptions(null, "group", true));
    assertEquals(PreferenceRecord.ofText("Human: Is tea healthy? Assistant:", " Yes.", " No.", "all", 1),
        loaded.records().get(0));
    assertEquals(PreferenceRecord.ofText("Question: tea? Ye", "s", "s, always", "all", 2), loaded.records().get(1));
    assertEquals(List.of(file + ":3: no \"prompt\", and \"chosen\" and \"rejected\" do not start alike, so no prompt "
        + "can be taken from them: add a \"prompt\" field"), loaded.firstProblems());
  }
}
