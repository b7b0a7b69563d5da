package dev.grpo4j.data;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvParser;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import dev.hardwood.InputFile;
import dev.hardwood.reader.ParquetFileReader;
import dev.hardwood.reader.RowReader;
import dev.hardwood.row.FieldAccessor;
import dev.hardwood.row.PqList;
import dev.hardwood.row.PqMap;
import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Reads the rows of a data file as JSON objects, whatever its {@link DataFormat}, so that one set of rules turns
 * rows into records. Each row comes with its position: the line it starts on for the text formats, its 1-based row
 * number for Parquet. A row that cannot be read as an object is reported to {@link RowHandler#malformed} and reading
 * goes on where the format allows it (JSON Lines, CSV and Parquet); a broken JSON array ends the read.
 */
public final class TableReader {
  private static final ObjectMapper JSON = new ObjectMapper();
  /**
   * hardwood logs through System.Logger, which is java.util.logging's console at INFO by default: "SIMD support:
   * disabled" on every Parquet read is news for nobody running grpo4j. Held here, since a logger's level is kept
   * only while the logger is.
   */
  private static final Logger HARDWOOD_LOG = quiet(Logger.getLogger("dev.hardwood"));
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  private static final byte[] BYTE_ORDER_MARK = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};

  /** What the reader hands over. */
  public interface RowHandler {
    /** A row, as an object. */
    void row(long position, ObjectNode row);

    /** A row that is not an object or not readable; {@code problem} says why, without the position. */
    void malformed(long position, String problem);

    /** A CSV file's column names, before its first row (none for an empty file); other formats have no header. */
    default void header(List<String> columns) {}
  }

  /** What {@link #readJsonValues} hands over. */
  public interface ValueHandler {
    /** A value of the file and the line it starts on. */
    void value(long line, JsonNode value);
  }

  private TableReader() {}

  /**
   * {@code file:line} for the text formats, {@code file row N} for Parquet: where a message points.
   */
  public static String where(Path file, DataFormat format, long position) {
    return format == DataFormat.PARQUET ? file + " row " + position : file + ":" + position;
  }

  /**
   * Reads all rows of a file.
   *
   * @throws NoSuchFileException if there is no such file
   * @throws DataFormatException if the file as a whole cannot be read in the format
   * @throws IOException if reading fails
   */
  public static void read(Path file, DataFormat format, RowHandler handler) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "no such data file");
    }
    switch (format) {
      case JSONL -> readJsonLines(file, handler);
      // Hugging Face datasets' to_json("x.json") writes JSON Lines unless told lines=False: go by the content.
      case JSON -> {
        if (startsWithObject(file)) {
          readJsonLines(file, handler);
        } else {
          readJsonArray(file, handler);
        }
      }
      case CSV -> readCsv(file, handler);
      case PARQUET -> readParquet(file, handler);
    }
  }

  private static void readJsonLines(Path file, RowHandler handler) throws IOException {
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
      LineReader lines = new LineReader(in);
      long line = 0;
      while (lines.next()) {
        line++;
        if (lines.isBlank()) {
          continue;
        }
        JsonNode node;
        try (JsonParser parser = JSON.createParser(lines.bytes(), lines.start(), lines.length())) {
          node = JSON.readTree(parser);
          if (parser.nextToken() != null) {
            handler.malformed(line, "more than one JSON value on the line (the next starts at column "
                + parser.currentTokenLocation().getColumnNr() + "): JSON Lines holds one record per line");
            continue;
          }
        } catch (JacksonException e) {
          handler.malformed(line, "not valid JSON: " + e.getOriginalMessage() + column(e.getLocation()));
          continue;
        }
        object(node, line, handler);
      }
    }
  }

  /** Whether the first JSON token of the file (after a byte order mark and white space) opens an object. */
  private static boolean startsWithObject(Path file) throws IOException {
    try (JsonParser parser = JSON.createParser(file.toFile())) {
      return parser.nextToken() == JsonToken.START_OBJECT;
    } catch (JacksonException e) {
      return false;
    }
  }

  private static void readJsonArray(Path file, RowHandler handler) throws IOException {
    readValues(file, true, (line, value) -> object(value, line, handler));
  }

  /**
   * Reads a JSON file that holds one array of values, or values one after another (JSON Lines, or pretty-printed
   * objects in a row), each with the line it starts on. Unlike {@link #read} with {@link DataFormat#JSONL}, the file
   * must be valid JSON as a whole.
   *
   * @throws NoSuchFileException if there is no such file
   * @throws DataFormatException naming the line where the file stops being valid JSON, or text after the array
   */
  public static void readJsonValues(Path file, ValueHandler handler) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "no such data file");
    }
    readValues(file, false, handler);
  }

  private static void readValues(Path file, boolean arrayOnly, ValueHandler handler) throws IOException {
    try (JsonParser parser = JSON.createParser(file.toFile())) {
      JsonToken t = parser.nextToken();
      if (t == null) {
        return;
      }
      if (arrayOnly && t != JsonToken.START_ARRAY) {
        throw new DataFormatException(file + ": expected a JSON array of records ([{...}, {...}]), found "
            + t.asString());
      }
      boolean array = t == JsonToken.START_ARRAY;
      for (t = array ? parser.nextToken() : t; t != null && t != JsonToken.END_ARRAY; t = parser.nextToken()) {
        long line = parser.currentTokenLocation().getLineNr();
        handler.value(line, JSON.readTree(parser));
      }
      if (array && parser.nextToken() != null) {
        throw new DataFormatException(file + ":" + parser.currentTokenLocation().getLineNr() + ": text after the "
            + "JSON array's closing ']'; a JSON file holds one array of records, JSON Lines one object per line");
      }
    } catch (JacksonException e) {
      JsonLocation at = e.getLocation();
      throw new DataFormatException(file + (at != null && at.getLineNr() > 0 ? ":" + at.getLineNr() : "")
          + ": not valid JSON: " + e.getOriginalMessage(), e);
    }
  }

  private static void readCsv(Path file, RowHandler handler) throws IOException {
    long size = Files.size(file);
    if (size <= BYTE_ORDER_MARK.length
        && Arrays.equals(Files.readAllBytes(file), Arrays.copyOf(BYTE_ORDER_MARK, (int) size))) {
      throw new DataFormatException(file + ": empty file; expected a CSV header line naming the columns");
    }
    CsvMapper csv = new CsvMapper();
    CsvSchema schema = CsvSchema.emptySchema().withHeader();
    try (Reader in = withoutByteOrderMark(Files.newBufferedReader(file, StandardCharsets.UTF_8));
         CsvParser parser = (CsvParser) csv.reader(schema).createParser(in)) {
      JsonToken record = parser.nextToken();
      handler.header(parser.getSchema().getColumnNames());
      for (; record == JsonToken.START_OBJECT; record = parser.nextToken()) {
        ObjectNode row = NODES.objectNode();
        long line = -1;
        // A record's line is where its first cell starts; the START_OBJECT token sits at the previous line's end.
        for (JsonToken t = parser.nextToken(); t == JsonToken.FIELD_NAME; t = parser.nextToken()) {
          line = line < 0 ? parser.currentTokenLocation().getLineNr() : line;
          String column = parser.currentName();
          parser.nextToken();
          String text = parser.getText();
          if (!text.isEmpty()) {
            row.set(column, csvCell(text));
          }
        }
        handler.row(line, row);
      }
    } catch (JacksonException e) {
      JsonLocation at = e.getLocation();
      throw new DataFormatException(file + (at != null && at.getLineNr() > 0 ? ":" + at.getLineNr() : "")
          + ": not valid CSV: " + e.getOriginalMessage(), e);
    }
  }

  /** Skips the byte order mark that Excel and Windows tools put before UTF-8 CSV; it is not part of the header. */
  private static Reader withoutByteOrderMark(BufferedReader in) throws IOException {
    in.mark(1);
    if (in.read() != '\uFEFF') {
      in.reset();
    }
    return in;
  }

  /**
   * A CSV cell: text, or, when it holds a list (conversational data), the list: as JSON, as a Python literal, or
   * as pandas prints a column of lists (a numpy array of dicts).
   */
  private static JsonNode csvCell(String text) {
    String trimmed = text.strip();
    if (trimmed.startsWith("[") && trimmed.endsWith("]")) {
      try {
        return JSON.readTree(trimmed);
      } catch (JacksonException notJson) {
        try {
          return PythonLiteral.parse(trimmed, true);
        } catch (PythonLiteral.SyntaxError notPython) {
          return NODES.textNode(text);
        }
      }
    }
    return NODES.textNode(text);
  }

  private static Logger quiet(Logger logger) {
    logger.setLevel(Level.WARNING);
    return logger;
  }

  private static void readParquet(Path file, RowHandler handler) throws IOException {
    try (ParquetFileReader parquet = ParquetFileReader.open(InputFile.of(file));
         RowReader rows = parquet.rowReader()) {
      long row = 0;
      while (rows.hasNext()) {
        rows.next();
        row++;
        handler.row(row, struct(rows));
      }
    } catch (IOException | RuntimeException e) {
      if (e instanceof DataFormatException) {
        throw e;
      }
      throw new DataFormatException(file + ": not readable as Parquet: " + parquetProblem(e), e);
    } catch (NoClassDefFoundError e) {
      throw new DataFormatException(file + ": its compression codec is not included in grpo4j (it reads "
          + "uncompressed, Snappy, Zstandard and gzip Parquet); rewrite it, e.g. with pyarrow: "
          + "pq.write_table(pq.read_table(src), dst, compression='zstd')", e);
    }
  }

  private static String parquetProblem(Throwable e) {
    String message = e.getMessage() == null ? e.toString() : e.getMessage();
    String lower = message.toLowerCase(Locale.ROOT);
    for (String codec : List.of("brotli", "lz4", "lzo")) {
      if (lower.contains(codec)) {
        return message + " (grpo4j reads uncompressed, Snappy, Zstandard and gzip Parquet; rewrite the file, e.g. "
            + "with pyarrow: pq.write_table(pq.read_table(src), dst, compression='zstd'))";
      }
    }
    return message;
  }

  private static ObjectNode struct(FieldAccessor fields) {
    ObjectNode object = NODES.objectNode();
    for (int i = 0; i < fields.getFieldCount(); i++) {
      String name = fields.getFieldName(i);
      if (!fields.isNull(name)) {
        object.set(name, parquetValue(fields.getValue(name)));
      }
    }
    return object;
  }

  private static JsonNode parquetValue(Object value) {
    return switch (value) {
      case null -> NODES.nullNode();
      case String s -> NODES.textNode(s);
      case Boolean b -> NODES.booleanNode(b);
      case Integer n -> NODES.numberNode(n);
      case Long n -> NODES.numberNode(n);
      case Float n -> NODES.numberNode(n);
      case Double n -> NODES.numberNode(n);
      case BigDecimal n -> NODES.numberNode(n);
      case byte[] bytes -> NODES.textNode(new String(bytes, StandardCharsets.UTF_8));
      case FieldAccessor struct -> struct(struct);
      case PqList list -> {
        ArrayNode array = NODES.arrayNode();
        for (Object item : list.values()) {
          array.add(parquetValue(item));
        }
        yield array;
      }
      case PqMap map -> {
        ObjectNode object = NODES.objectNode();
        for (PqMap.Entry e : map.getEntries()) {
          object.set(String.valueOf(e.getKey()), parquetValue(e.getValue()));
        }
        yield object;
      }
      default -> NODES.textNode(value.toString());
    };
  }

  private static void object(JsonNode node, long position, RowHandler handler) {
    if (node instanceof ObjectNode object) {
      handler.row(position, object);
    } else {
      handler.malformed(position, "expected a JSON object (one record, with \"chosen\", \"rejected\" and usually "
          + "\"prompt\"), got " + describe(node));
    }
  }

  /** How a JSON value is named in messages. */
  public static String describe(JsonNode value) {
    return switch (value.getNodeType()) {
      case ARRAY -> "an array";
      case OBJECT -> "an object";
      case BOOLEAN -> "a boolean (" + value + ")";
      case NUMBER -> "a number (" + value + ")";
      case STRING -> "a string";
      default -> value.getNodeType().toString().toLowerCase(Locale.ROOT);
    };
  }

  private static String column(JsonLocation where) {
    return where != null && where.getColumnNr() > 0 ? " (column " + where.getColumnNr() + ")" : "";
  }

  /**
   * Lines as raw bytes, split at {@code \n} with a trailing {@code \r} dropped. Bytes rather than a
   * {@code Reader} so that invalid UTF-8 is reported by the JSON parser for its own line instead of failing the
   * whole read.
   */
  private static final class LineReader {
    private static final byte[] UTF8_BOM = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};

    private final InputStream in;
    private byte[] buffer = new byte[8192];
    private int start;
    private int length;
    private boolean first = true;
    private boolean ended;

    LineReader(InputStream in) {
      this.in = in;
    }

    boolean next() throws IOException {
      if (ended) {
        return false;
      }
      int n = 0;
      int b;
      while ((b = in.read()) != -1 && b != '\n') {
        if (n == buffer.length) {
          buffer = Arrays.copyOf(buffer, 2 * n);
        }
        buffer[n++] = (byte) b;
      }
      if (b == -1) {
        ended = true;
        if (n == 0) {
          return false;
        }
      }
      if (n > 0 && buffer[n - 1] == '\r') {
        n--;
      }
      start = 0;
      if (first && n >= 3 && Arrays.equals(buffer, 0, 3, UTF8_BOM, 0, 3)) {
        start = 3;
      }
      first = false;
      length = n - start;
      return true;
    }

    byte[] bytes() {
      return buffer;
    }

    int start() {
      return start;
    }

    int length() {
      return length;
    }

    boolean isBlank() {
      for (int i = start; i < start + length; i++) {
        byte c = buffer[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\f') {
          return false;
        }
      }
      return true;
    }
  }
}
