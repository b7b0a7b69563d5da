package dev.grpo4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The one reader of data files: what the survey reader and the preference reader share. */
class TableReaderTest {
  @TempDir
  Path dir;

  @Test
  void jsonValuesComeFromAnArrayOrOneAfterAnotherWithTheLineTheyStartOn() throws IOException {
    Path stream = Files.writeString(dir.resolve("stream.json"), "{\"a\": 1,\n \"b\": [1,\n 2]}\n\n{\"a\": 2} [3]\n");
    assertEquals(List.of("1:{\"a\":1,\"b\":[1,2]}", "5:{\"a\":2}", "5:[3]"), values(stream));
    Path array = Files.writeString(dir.resolve("array.json"), "\uFEFF[\n {\"a\": 1},\n \"x\"\n]\n");
    assertEquals(List.of("2:{\"a\":1}", "3:\"x\""), values(array));
  }

  @Test
  void jsonThatIsNotValidOrHasTextAfterItsArrayFailsNamingTheLine() throws IOException {
    Path broken = Files.writeString(dir.resolve("broken.json"), "{\"a\": 1}\n{\"a\": [1 2]}\n");
    DataFormatException e = assertThrows(DataFormatException.class, () -> values(broken));
    assertTrue(e.getMessage().startsWith(broken + ":2: not valid JSON"), e.getMessage());
    Path trailing = Files.writeString(dir.resolve("trailing.json"), "[{\"a\": 1}]\n{\"a\": 2}\n");
    e = assertThrows(DataFormatException.class, () -> values(trailing));
    assertTrue(e.getMessage().startsWith(trailing + ":2: text after the JSON array's closing ']'"), e.getMessage());
    e = assertThrows(DataFormatException.class, () -> TableReader.read(trailing, DataFormat.JSON, new Rows()));
    assertTrue(e.getMessage().contains("text after the JSON array"), "records as well: " + e.getMessage());
  }

  @Test
  void csvGivesItsHeaderFirstAndAnEmptyFileIsRefused() throws IOException {
    Path csv = Files.writeString(dir.resolve("t.csv"), "\uFEFFquestion,Options\nQ?,\"['a', 'b']\"\n");
    Rows rows = new Rows();
    TableReader.read(csv, DataFormat.CSV, rows);
    assertEquals(List.of("header [question, Options]", "2:{\"question\":\"Q?\",\"Options\":[\"a\",\"b\"]}"),
        rows.seen);
    for (String content : new String[] {"", "\uFEFF"}) {
      Path empty = Files.writeString(dir.resolve("empty.csv"), content);
      DataFormatException e = assertThrows(DataFormatException.class,
          () -> TableReader.read(empty, DataFormat.CSV, new Rows()));
      assertEquals(empty + ": empty file; expected a CSV header line naming the columns", e.getMessage());
    }
  }

  private static List<String> values(Path file) throws IOException {
    List<String> seen = new ArrayList<>();
    TableReader.readJsonValues(file, (line, value) -> seen.add(line + ":" + value));
    return seen;
  }

  private static final class Rows implements TableReader.RowHandler {
    final List<String> seen = new ArrayList<>();

    @Override
    public void header(List<String> columns) {
      seen.add("header " + columns);
    }

    @Override
    public void row(long position, ObjectNode row) {
      seen.add(position + ":" + row);
    }

    @Override
    public void malformed(long position, String problem) {
      seen.add(position + ": malformed: " + problem);
    }
  }
}
