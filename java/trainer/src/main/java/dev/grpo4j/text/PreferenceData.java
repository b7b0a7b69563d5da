package dev.grpo4j.text;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Reads preference pairs from JSON Lines: one object per line with the fields {@code prompt}, {@code chosen},
 * {@code rejected} (non-empty strings; the responses without the prompt) and {@code group} (a string or an
 * integer label, one kind per file; see {@link GroupIndex} for how labels become ids). Other fields are ignored, so data sets exported with extra columns read as they are. Blank lines are
 * skipped.
 *
 * <pre>{@code {"prompt": "Is tea healthy?", "chosen": "In moderation, yes.", "rejected": "No.", "group": "UK"}}</pre>
 */
public final class PreferenceData {
  /** How many problem messages a lenient read keeps for its report. */
  public static final int PROBLEMS_KEPT = 5;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> TEXT_FIELDS = List.of("prompt", "chosen", "rejected");

  private PreferenceData() {}

  /**
   * The result of reading a file.
   *
   * @param records the well-formed records, in file order; never empty
   * @param skippedLines malformed lines skipped (only when reading with {@code skipBadLines})
   * @param firstProblems {@code file:line: what is wrong} of the first {@value #PROBLEMS_KEPT} skipped lines
   */
  public record Loaded(List<PreferenceRecord> records, int skippedLines, List<String> firstProblems) {
    public Loaded {
      records = List.copyOf(records);
      firstProblems = List.copyOf(firstProblems);
      if (skippedLines < 0) {
        throw new IllegalArgumentException("skippedLines = " + skippedLines + ": must be >= 0");
      }
    }
  }

  /**
   * Reads a JSON Lines file of preference pairs, streaming it line by line.
   *
   * @param file the {@code .jsonl} file, UTF-8
   * @param skipBadLines skip malformed lines and count them instead of failing on the first
   * @return the records, with the count and first messages of skipped lines
   * @throws DataFormatException on a malformed line ({@code file:line: what is wrong}) unless {@code skipBadLines},
   *     or if the file holds no usable record
   * @throws NoSuchFileException if the file does not exist
   * @throws IOException if it cannot be read
   */
  public static Loaded readJsonl(Path file, boolean skipBadLines) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "preference data file not found (expected JSON Lines "
          + "with prompt, chosen, rejected and group on each line)");
    }
    List<PreferenceRecord> records = new ArrayList<>();
    List<String> problems = new ArrayList<>();
    GroupKinds kinds = new GroupKinds();
    int skipped = 0;
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
      LineReader lines = new LineReader(in);
      long line = 0;
      while (lines.next()) {
        line++;
        if (lines.isBlank()) {
          continue;
        }
        try {
          records.add(parse(lines.bytes(), lines.start(), lines.length(), line, kinds));
        } catch (BadLine bad) {
          String message = file + ":" + line + ": " + bad.getMessage();
          if (!skipBadLines) {
            throw new DataFormatException(message, bad.getCause());
          }
          skipped++;
          if (problems.size() < PROBLEMS_KEPT) {
            problems.add(message);
          }
        }
      }
    }
    if (records.isEmpty()) {
      throw new DataFormatException(skipped == 0
          ? file + ": no preference records: the file is empty or has only blank lines"
          : file + ": no usable preference records: all " + skipped + " non-blank lines are malformed, e.g. "
              + problems.getFirst());
    }
    return new Loaded(records, skipped, problems);
  }

  private static PreferenceRecord parse(byte[] bytes, int start, int length, long line, GroupKinds kinds) {
    JsonNode node;
    try (JsonParser parser = JSON.createParser(bytes, start, length)) {
      node = JSON.readTree(parser);
      if (parser.nextToken() != null) {
        throw new BadLine("more than one JSON value on the line (the next starts at column "
            + parser.currentTokenLocation().getColumnNr() + "): JSON Lines holds one record per line");
      }
    } catch (JacksonException e) {
      JsonLocation where = e.getLocation();
      String column = where != null && where.getColumnNr() > 0 ? " (column " + where.getColumnNr() + ")" : "";
      throw new BadLine("not valid JSON: " + e.getOriginalMessage() + column, e);
    } catch (IOException e) {
      throw new BadLine("not readable as JSON: " + e.getMessage(), e);
    }
    if (!node.isObject()) {
      throw new BadLine("expected a JSON object with \"prompt\", \"chosen\", \"rejected\" and \"group\", got "
          + describe(node));
    }
    String[] texts = new String[TEXT_FIELDS.size()];
    for (int i = 0; i < texts.length; i++) {
      texts[i] = text(node, TEXT_FIELDS.get(i));
    }
    String group = group(node);
    kinds.check(node.get("group"), line);
    return new PreferenceRecord(texts[0], texts[1], texts[2], group, line);
  }

  private static String text(JsonNode record, String field) {
    JsonNode value = present(record, field);
    if (!value.isTextual()) {
      String hint = value.isArray()
          ? " (chat messages? apply the model's chat template and store the resulting text)" : "";
      throw new BadLine("field \"" + field + "\" must be a string, got " + describe(value) + hint);
    }
    if (value.textValue().isEmpty()) {
      throw new BadLine("field \"" + field + "\" is an empty string");
    }
    return value.textValue();
  }

  private static String group(JsonNode record) {
    JsonNode value = present(record, "group");
    if (value.isTextual()) {
      if (value.textValue().isEmpty()) {
        throw new BadLine("field \"group\" is an empty string");
      }
      return value.textValue();
    }
    if (value.isIntegralNumber()) {
      return value.bigIntegerValue().toString();
    }
    throw new BadLine("field \"group\" must be a string or an integer, got " + describe(value));
  }

  /**
   * Whether a file's group values are integers or strings. One file must use one kind: integer {@code 1} and
   * string {@code "1"} would be the same group, which in a file holding both is more likely a mistake than meant.
   */
  private static final class GroupKinds {
    private long firstIntegerLine = -1;
    private long firstStringLine = -1;

    void check(JsonNode value, long line) {
      if (value.isTextual()) {
        if (firstIntegerLine >= 0) {
          throw mixed("a string", "an integer", firstIntegerLine, value);
        }
        if (firstStringLine < 0) {
          firstStringLine = line;
        }
      } else {
        if (firstStringLine >= 0) {
          throw mixed("an integer", "a string", firstStringLine, value);
        }
        if (firstIntegerLine < 0) {
          firstIntegerLine = line;
        }
      }
    }

    private static BadLine mixed(String here, String there, long thereLine, JsonNode value) {
      return new BadLine("field \"group\" is " + here + " (" + value + ") but " + there + " on line " + thereLine
          + ": use one kind for every group of a file (integer 1 and string \"1\" would be the same group)");
    }
  }

  private static JsonNode present(JsonNode record, String field) {
    JsonNode value = record.get(field);
    if (value == null) {
      throw new BadLine("field \"" + field + "\" is missing");
    }
    if (value.isNull()) {
      throw new BadLine("field \"" + field + "\" is null");
    }
    return value;
  }

  private static String describe(JsonNode value) {
    return switch (value.getNodeType()) {
      case ARRAY -> "an array";
      case OBJECT -> "an object";
      case BOOLEAN -> "a boolean (" + value + ")";
      case NUMBER -> "a number (" + value + ")";
      case STRING -> "a string";
      default -> value.getNodeType().toString().toLowerCase(Locale.ROOT);
    };
  }

  /** What is wrong with one line, without the {@code file:line:} prefix; cheap, as lenient reads make many. */
  private static final class BadLine extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BadLine(String message) {
      super(message, null, false, false);
    }

    BadLine(String message, Throwable cause) {
      super(message, cause, false, false);
    }
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

    /** Reads the next line; false at the end of the input. */
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
