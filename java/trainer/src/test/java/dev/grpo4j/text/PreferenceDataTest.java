package dev.grpo4j.text;

import dev.grpo4j.data.DataFormatException;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading JSON Lines preference data: good files, every kind of bad line, lenient reads. */
class PreferenceDataTest {
  private static final String GOOD = "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": \"g\"}";

  @TempDir
  Path dir;

  private Path write(String... lines) throws IOException {
    return writeBytes(String.join("\n", lines).getBytes(StandardCharsets.UTF_8));
  }

  private Path writeBytes(byte[] content) throws IOException {
    Path file = dir.resolve("pairs.jsonl");
    Files.write(file, content);
    return file;
  }

  /** The message of reading a file whose second line is {@code line}, after a good first line. */
  private String problemWith(String line) throws IOException {
    Path file = write(GOOD, line);
    DataFormatException e = assertThrows(DataFormatException.class, () -> PreferenceData.readJsonl(file, false));
    String prefix = file + ":2: ";
    assertTrue(e.getMessage().startsWith(prefix), e.getMessage());
    return e.getMessage().substring(prefix.length());
  }

  @Test
  void readsRecordsWithLineNumbers() throws IOException {
    Path file = write(
        "{\"prompt\": \"Is tea healthy?\", \"chosen\": \"In moderation.\", \"rejected\": \"No.\", \"group\": \"UK\"}",
        "{\"prompt\": \"Grüße\", \"chosen\": \"日本\", \"rejected\": \"a \\\"quoted\\\"\\nline\", \"group\": \"DE\"}");
    PreferenceData.Loaded loaded = PreferenceData.readJsonl(file, false);
    assertEquals(List.of(
        PreferenceRecord.ofText("Is tea healthy?", "In moderation.", "No.", "UK", 1),
        PreferenceRecord.ofText("Grüße", "日本", "a \"quoted\"\nline", "DE", 2)), loaded.records());
    assertEquals(0, loaded.skippedLines());
    assertEquals(List.of(), loaded.firstProblems());
  }

  @Test
  void aGroupFieldNamedByTheUserMustExist() throws IOException {
    Path file = write(
        "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"country\": \"UK\"}",
        "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"country\": \"DE\", \"id\": 7}");
    DataFormatException e = assertThrows(DataFormatException.class, () -> PreferenceData.read(file,
        new PreferenceData.ReadOptions(null, "region", false)));
    assertEquals(file + ": no record has the field \"region\" that --group-field names; the records' fields are "
        + "chosen, country, id, prompt, rejected: name the one that holds the group label, or drop --group-field to "
        + "train on all pairs as one group", e.getMessage());

    PreferenceData.Loaded byCountry = PreferenceData.read(file, new PreferenceData.ReadOptions(null, "country", false));
    assertEquals(List.of("UK", "DE"), byCountry.records().stream().map(PreferenceRecord::group).toList());
    assertTrue(byCountry.grouped());
    // The default field may be absent: such data is one group (the trainer warns when the method weights groups).
    assertEquals(false, PreferenceData.readJsonl(file, false).grouped());
  }

  @Test
  void integerGroupsAreWrittenInDecimal() throws IOException {
    Path file = write(
        "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": 3}",
        "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": 123456789012345678901234567890}",
        "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": -2}");
    List<String> groups = PreferenceData.readJsonl(file, false).records().stream()
        .map(PreferenceRecord::group).toList();
    assertEquals(List.of("3", "123456789012345678901234567890", "-2"), groups);
  }

  @Test
  void aFileMixingIntegerAndStringGroupsIsRefused() throws IOException {
    Path file = write(
        "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": 1}",
        "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": 2}",
        "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": \"1\"}");
    DataFormatException e = assertThrows(DataFormatException.class, () -> PreferenceData.readJsonl(file, false));
    assertEquals(file + ":3: field \"group\" is a string (\"1\") but an integer on line 1: use one kind for every "
        + "group of a file (integer 1 and string \"1\" would be the same group)", e.getMessage());
  }

  @Test
  void blankLinesAreSkippedButCounted() throws IOException {
    Path file = write("", GOOD, "   ", "\t", GOOD, "");
    List<PreferenceRecord> records = PreferenceData.readJsonl(file, false).records();
    assertEquals(List.of(2L, 5L), records.stream().map(PreferenceRecord::line).toList(),
        "lines are the file's own, blank ones included");
  }

  @Test
  void extraFieldsAreIgnored() throws IOException {
    Path file = write("{\"id\": 7, \"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": \"g\", "
        + "\"score_chosen\": 8.5, \"messages\": [{\"role\": \"user\"}], \"meta\": null}");
    assertEquals(List.of(PreferenceRecord.ofText("p", "c", "r", "g", 1)),
        PreferenceData.readJsonl(file, false).records());
  }

  @Test
  void chosenMayEqualRejected() throws IOException {
    Path file = write("{\"prompt\": \"p\", \"chosen\": \"same\", \"rejected\": \"same\", \"group\": \"g\"}");
    assertEquals(1, PreferenceData.readJsonl(file, false).records().size());
  }

  @Test
  void windowsLineEndingsByteOrderMarkAndNoFinalNewline() throws IOException {
    byte[] bom = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};
    byte[] body = (GOOD + "\r\n\r\n" + GOOD).getBytes(StandardCharsets.UTF_8);
    byte[] content = new byte[bom.length + body.length];
    System.arraycopy(bom, 0, content, 0, bom.length);
    System.arraycopy(body, 0, content, bom.length, body.length);
    List<PreferenceRecord> records = PreferenceData.readJsonl(writeBytes(content), false).records();
    assertEquals(List.of(1L, 3L), records.stream().map(PreferenceRecord::line).toList());
    assertEquals("g", records.get(1).group(), "no \\r left in the last field");
  }

  @Test
  void missingFields() throws IOException {
    assertEquals("field \"chosen\" is missing",
        problemWith("{\"prompt\": \"p\", \"rejected\": \"r\", \"group\": \"g\"}"));
    assertEquals("field \"prompt\" is missing (the first record, line 1, has one; a file gives every record a prompt, "
        + "or none)", problemWith("{\"chosen\": \"c\", \"rejected\": \"r\", \"group\": \"g\"}"));
    assertEquals("field \"rejected\" is missing",
        problemWith("{\"prompt\": \"p\", \"chosen\": \"c\", \"group\": \"g\"}"));
    assertEquals("field \"group\" is missing (the first record, line 1, has one)",
        problemWith("{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}"));
  }

  @Test
  void nullAndEmptyFields() throws IOException {
    assertEquals("field \"prompt\" is null (the first record, line 1, has one; a file gives every record a prompt, "
        + "or none)", problemWith("{\"prompt\": null, \"chosen\": \"c\", \"rejected\": \"r\", \"group\": \"g\"}"));
    assertEquals("field \"rejected\" is an empty string",
        problemWith("{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"\", \"group\": \"g\"}"));
    assertEquals("field \"group\" is an empty string",
        problemWith("{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": \"\"}"));
    assertEquals("field \"group\" is null (the first record, line 1, has one)",
        problemWith("{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": null}"));
  }

  @Test
  void wronglyTypedFields() throws IOException {
    assertEquals("field \"chosen\" must be a string, got a number (5)",
        problemWith("{\"prompt\": \"p\", \"chosen\": 5, \"rejected\": \"r\", \"group\": \"g\"}"));
    assertEquals("field \"rejected\" must be a string, got an object",
        problemWith("{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": {\"text\": \"r\"}, \"group\": \"g\"}"));
    assertEquals("field \"prompt\" is a list of messages but \"chosen\" is text: prompt, chosen and rejected must all "
            + "be text or all be messages",
        problemWith("{\"prompt\": [{\"role\": \"user\", \"content\": \"p\"}], \"chosen\": \"c\", \"rejected\": \"r\", "
            + "\"group\": \"g\"}"));
    assertEquals("field \"group\" must be a string or an integer, got a number (1.5)",
        problemWith("{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": 1.5}"));
    assertEquals("field \"group\" must be a string or an integer, got a boolean (true)",
        problemWith("{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": true}"));
    assertEquals("field \"group\" must be a string or an integer, got an array",
        problemWith("{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": [1]}"));
  }

  @Test
  void notAnObject() throws IOException {
    assertEquals("expected a JSON object (one record, with \"chosen\", \"rejected\" and usually \"prompt\"), got an "
        + "array", problemWith("[\"p\", \"c\", \"r\", 1]"));
    assertEquals("expected a JSON object (one record, with \"chosen\", \"rejected\" and usually \"prompt\"), got a "
        + "string", problemWith("\"p\""));
  }

  @Test
  void invalidJson() throws IOException {
    assertTrue(problemWith("{\"prompt\": \"p\", \"chosen\": ").startsWith("not valid JSON: "));
    assertTrue(problemWith("{'prompt': 'p'}").startsWith("not valid JSON: "));
    assertEquals("more than one JSON value on the line (the next starts at column " + (GOOD.length() + 2)
        + "): JSON Lines holds one record per line", problemWith(GOOD + " " + GOOD));
    String truncated = problemWith("{\"prompt\": \"p\", \"chosen\": \"c\"");
    assertTrue(truncated.startsWith("not valid JSON: ") && truncated.contains("column"), truncated);
  }

  @Test
  void invalidUtf8IsABadLineNotABadFile() throws IOException {
    byte[] good = (GOOD + "\n").getBytes(StandardCharsets.UTF_8);
    byte[] bad = "{\"prompt\": \"\u00ff\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": \"g\"}\n"
        .getBytes(StandardCharsets.ISO_8859_1);
    byte[] content = new byte[2 * good.length + bad.length];
    System.arraycopy(good, 0, content, 0, good.length);
    System.arraycopy(bad, 0, content, good.length, bad.length);
    System.arraycopy(good, 0, content, good.length + bad.length, good.length);
    Path file = writeBytes(content);
    DataFormatException e = assertThrows(DataFormatException.class, () -> PreferenceData.readJsonl(file, false));
    assertTrue(e.getMessage().startsWith(file + ":2: not valid JSON: "), e.getMessage());
    PreferenceData.Loaded lenient = PreferenceData.readJsonl(file, true);
    assertEquals(List.of(1L, 3L), lenient.records().stream().map(PreferenceRecord::line).toList());
  }

  @Test
  void lineNumbersCountBlankLines() throws IOException {
    Path file = write(GOOD, "", "", "{\"prompt\": \"p\"}");
    DataFormatException e = assertThrows(DataFormatException.class, () -> PreferenceData.readJsonl(file, false));
    assertEquals(file + ":4: field \"chosen\" is missing", e.getMessage());
  }

  @Test
  void skipBadLinesCountsThemAndKeepsTheFirstFiveMessages() throws IOException {
    String[] lines = new String[10];
    for (int i = 0; i < lines.length; i++) {
      lines[i] = i % 3 == 0 ? GOOD : "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": " + i + ".5}";
    }
    Path file = write(lines);
    PreferenceData.Loaded loaded = PreferenceData.readJsonl(file, true);
    assertEquals(List.of(1L, 4L, 7L, 10L), loaded.records().stream().map(PreferenceRecord::line).toList());
    assertEquals(6, loaded.skippedLines());
    assertEquals(PreferenceData.PROBLEMS_KEPT, loaded.firstProblems().size());
    assertEquals(file + ":2: field \"group\" must be a string or an integer, got a number (1.5)",
        loaded.firstProblems().getFirst());
    assertTrue(loaded.firstProblems().getLast().startsWith(file + ":8: "), loaded.firstProblems().getLast());
  }

  @Test
  void emptyFileIsAnError() throws IOException {
    Path empty = write();
    DataFormatException e = assertThrows(DataFormatException.class, () -> PreferenceData.readJsonl(empty, true));
    assertEquals(empty + ": no preference records: the file is empty or has only blank lines", e.getMessage());
    Path blank = write("", "  ", "");
    assertThrows(DataFormatException.class, () -> PreferenceData.readJsonl(blank, false));
  }

  @Test
  void onlyBadLinesIsAnErrorEvenWhenSkipping() throws IOException {
    Path file = write("{}", "nonsense");
    DataFormatException e = assertThrows(DataFormatException.class, () -> PreferenceData.readJsonl(file, true));
    assertTrue(e.getMessage().startsWith(file + ": no usable preference records: all 2 records are "
        + "malformed, e.g. " + file + ":1: field \"chosen\" is missing"), e.getMessage());
  }

  @Test
  void missingFileNamesTheFile() {
    Path missing = dir.resolve("nope.jsonl");
    NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> PreferenceData.readJsonl(missing, false));
    assertTrue(e.getMessage().startsWith(missing.toString()), e.getMessage());
  }

  @Test
  void longLinesAreRead() throws IOException {
    String longText = "x".repeat(100_000);
    Path file = write("{\"prompt\": \"" + longText + "\", \"chosen\": \"c\", \"rejected\": \"r\", \"group\": 0}");
    assertEquals(longText, PreferenceData.readJsonl(file, false).records().getFirst().prompt().toString());
  }
}
