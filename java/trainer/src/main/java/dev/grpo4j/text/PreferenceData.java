package dev.grpo4j.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.grpo4j.data.DataFormat;
import dev.grpo4j.data.DataFormatException;
import dev.grpo4j.data.TableReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.function.IntPredicate;
import java.util.function.LongFunction;

/**
 * Reads preference pairs in the dataset formats of TRL's DPO trainer, from JSON Lines, JSON, CSV or Parquet
 * ({@link DataFormat}). Each record has {@code chosen} and {@code rejected}, in one of these forms:
 *
 * <ul>
 *   <li><b>standard</b>: {@code prompt}, {@code chosen} and {@code rejected} are non-empty strings, the responses
 *       without the prompt;
 *   <li><b>conversational</b>: they are lists of chat messages ({@code {"role": ..., "content": ...}}), the prompt's
 *       ending with the turn to answer and each response holding the assistant's message(s); the model's chat
 *       template makes text of them;
 *   <li><b>implicit prompt</b>: no {@code prompt}; {@code chosen} and {@code rejected} are whole texts or
 *       conversations that start alike, and the shared start becomes the prompt as TRL's {@code extract_prompt}
 *       computes it (the longest common prefix of messages; for text, of characters, less a space just before the
 *       split).
 * </ul>
 *
 * <p>One file uses one form. Extra fields are ignored. The group label is the field {@code group}, or the one named
 * by {@link ReadOptions#groupField}: a string or an integer, one kind per file (see {@link GroupIndex}). A file
 * whose first record has no such field has no groups: every record is in the one group {@value #SINGLE_GROUP}, and
 * GR-DPO and GR-IPO then equal plain DPO and IPO.
 *
 * <pre>{@code {"prompt": "Is tea healthy?", "chosen": "In moderation, yes.", "rejected": "No.", "group": "UK"}
 * {"prompt": [{"role": "user", "content": "Is tea healthy?"}],
 *  "chosen": [{"role": "assistant", "content": "In moderation, yes."}],
 *  "rejected": [{"role": "assistant", "content": "No."}], "group": "UK"}}</pre>
 */
public final class PreferenceData {
  /** How many problem messages a lenient read keeps for its report. */
  public static final int PROBLEMS_KEPT = 5;
  /** The group field read unless another is named. */
  public static final String DEFAULT_GROUP_FIELD = "group";
  /** The one group of a file without group labels. */
  public static final String SINGLE_GROUP = "all";

  private static final ObjectMapper JSON = new ObjectMapper();

  private PreferenceData() {}

  /**
   * How to read a file.
   *
   * @param format the file format, or null to tell it from the file name
   * @param groupField the field holding the group label
   * @param skipBadRecords skip malformed records and count them instead of failing on the first
   */
  public record ReadOptions(DataFormat format, String groupField, boolean skipBadRecords) {
    public ReadOptions {
      Objects.requireNonNull(groupField, "groupField");
      if (groupField.isBlank()) {
        throw new IllegalArgumentException("--group-field is blank: name the field that holds the group label");
      }
    }

    /** Format from the extension, the field {@value #DEFAULT_GROUP_FIELD}, stopping at the first bad record. */
    public static ReadOptions defaults() {
      return new ReadOptions(null, DEFAULT_GROUP_FIELD, false);
    }
  }

  /**
   * The result of reading a file.
   *
   * @param records the well-formed records, in file order; never empty
   * @param skippedLines malformed records skipped (only when reading with {@code skipBadRecords})
   * @param firstProblems {@code file:line: what is wrong} of the first {@value #PROBLEMS_KEPT} skipped records
   * @param format the format the file was read in
   * @param conversational whether the records are chat messages
   * @param implicitPrompt whether the prompts were extracted from the responses
   * @param grouped whether the file labels groups; if not, all records are in group {@value #SINGLE_GROUP}
   */
  public record Loaded(List<PreferenceRecord> records, int skippedLines, List<String> firstProblems,
                       DataFormat format, boolean conversational, boolean implicitPrompt, boolean grouped) {
    public Loaded {
      records = List.copyOf(records);
      firstProblems = List.copyOf(firstProblems);
      if (skippedLines < 0) {
        throw new IllegalArgumentException("skippedLines = " + skippedLines + ": must be >= 0");
      }
    }

    /** {@code conversational, implicit prompt} or the like, for messages. */
    public String describe() {
      return (conversational ? "conversational" : "standard") + (implicitPrompt ? " with implicit prompts" : "")
          + ", " + format.optionValue() + (grouped ? "" : ", no group labels");
    }
  }

  /**
   * Reads a JSON Lines file with the default group field.
   *
   * @see #read(Path, ReadOptions)
   */
  public static Loaded readJsonl(Path file, boolean skipBadLines) throws IOException {
    return read(file, new ReadOptions(DataFormat.JSONL, DEFAULT_GROUP_FIELD, skipBadLines));
  }

  /**
   * Reads a file of preference pairs.
   *
   * @return the records, with the count and first messages of skipped ones
   * @throws DataFormatException on a malformed record ({@code file:line: what is wrong}) unless skipping them, or if
   *     the file holds no usable record
   * @throws NoSuchFileException if the file does not exist
   * @throws IOException if it cannot be read
   */
  public static Loaded read(Path file, ReadOptions options) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "preference data file not found (expected records with "
          + "chosen and rejected, and usually prompt and a group label)");
    }
    DataFormat format = options.format() != null ? options.format() : DataFormat.ofFile(file);
    Collector collector = new Collector(file, format, options);
    TableReader.read(file, format, collector);
    if (collector.records.isEmpty()) {
      throw new DataFormatException(collector.skipped == 0
          ? file + ": no preference records: the file is empty or has only blank lines"
          : file + ": no usable preference records: all " + collector.skipped + " records are malformed, e.g. "
              + collector.problems.getFirst());
    }
    if (!collector.groups.grouped && !options.groupField().equals(DEFAULT_GROUP_FIELD)) {
      throw new DataFormatException(file + ": no record has the field \"" + options.groupField() + "\" that "
          + "--group-field names; the records' fields are " + String.join(", ", collector.fields) + ": name the one "
          + "that holds the group label, or drop --group-field to train on all pairs as one group");
    }
    return new Loaded(collector.records, collector.skipped, collector.problems, format,
        collector.shape.conversational, collector.shape.implicit, collector.groups.grouped);
  }

  /** Turns rows into records, holding the file's form fixed by its first good record. */
  private static final class Collector implements TableReader.RowHandler {
    private final Path file;
    private final DataFormat format;
    private final ReadOptions options;
    private final List<PreferenceRecord> records = new ArrayList<>();
    private final List<String> problems = new ArrayList<>();
    private final Shape shape;
    private final Groups groups;
    private final SortedSet<String> fields = new TreeSet<>();
    private int skipped;

    Collector(Path file, DataFormat format, ReadOptions options) {
      this.file = file;
      this.format = format;
      this.options = options;
      LongFunction<String> place = format == DataFormat.PARQUET ? row -> "row " + row : line -> "line " + line;
      this.shape = new Shape(place);
      this.groups = new Groups(options.groupField(), place);
    }

    @Override
    public void row(long position, ObjectNode row) {
      if (!groups.grouped && !options.groupField().equals(DEFAULT_GROUP_FIELD)) {
        // Only for the message should no record have the field --group-field names.
        row.fieldNames().forEachRemaining(fields::add);
      }
      try {
        records.add(record(row, position));
      } catch (BadRecord bad) {
        malformed(position, bad.getMessage());
      }
    }

    @Override
    public void malformed(long position, String problem) {
      String message = TableReader.where(file, format, position) + ": " + problem;
      if (!options.skipBadRecords()) {
        throw new DataFormatException(message);
      }
      skipped++;
      if (problems.size() < PROBLEMS_KEPT) {
        problems.add(message);
      }
    }

    private PreferenceRecord record(ObjectNode row, long position) {
      JsonNode chosen = present(row, "chosen");
      JsonNode rejected = present(row, "rejected");
      boolean conversational = chosen.isArray();
      JsonNode prompt = row.get("prompt");
      boolean implicit = prompt == null || prompt.isNull();
      if (!implicit && prompt.isArray() != conversational) {
        throw new BadRecord("field \"prompt\" is " + (prompt.isArray() ? "a list of messages" : "text") + " but "
            + "\"chosen\" is " + (conversational ? "a list of messages" : "text") + ": prompt, chosen and rejected "
            + "must all be text or all be messages");
      }
      shape.check(conversational, implicit, prompt, position);
      String group = groups.label(row, position);
      Content[] contents = conversational
          ? conversation(implicit ? null : prompt, chosen, rejected)
          : texts(implicit ? null : prompt, chosen, rejected);
      return new PreferenceRecord(contents[0], contents[1], contents[2], group, position);
    }
  }

  /** Whether the file is conversational and has implicit prompts, as its first good record says. */
  private static final class Shape {
    private final LongFunction<String> place;
    private long firstLine = -1;
    private boolean conversational;
    private boolean implicit;

    Shape(LongFunction<String> place) {
      this.place = place;
    }

    void check(boolean conversational, boolean implicit, JsonNode prompt, long line) {
      if (firstLine < 0) {
        firstLine = line;
        this.conversational = conversational;
        this.implicit = implicit;
        return;
      }
      if (conversational != this.conversational) {
        throw new BadRecord("\"chosen\" is " + (conversational ? "a list of messages" : "text") + " but the first "
            + "record (" + place.apply(firstLine) + ") has " + (this.conversational ? "messages" : "text")
            + ": use one form for every record of a file");
      }
      if (implicit && !this.implicit) {
        throw new BadRecord("field \"prompt\" is " + (prompt == null ? "missing" : "null") + " (the first record, "
            + place.apply(firstLine) + ", has one; a file gives every record a prompt, or none)");
      }
      if (!implicit && this.implicit) {
        throw new BadRecord("has a \"prompt\" but the first record (" + place.apply(firstLine) + ") has none, its "
            + "prompt being the start \"chosen\" and \"rejected\" share: give every record of a file a prompt, or "
            + "none");
      }
    }
  }

  /**
   * The group labels: whether the file has them (decided by its first good record), and whether they are integers
   * or strings. One file uses one kind: integer {@code 1} and string {@code "1"} would be the same group, which in a
   * file holding both is more likely a mistake than meant.
   */
  private static final class Groups {
    private final String field;
    private final LongFunction<String> place;
    private long firstLine = -1;
    private boolean grouped;
    private long firstIntegerLine = -1;
    private long firstStringLine = -1;

    Groups(String field, LongFunction<String> place) {
      this.field = field;
      this.place = place;
    }

    String label(ObjectNode row, long line) {
      JsonNode value = row.get(field);
      boolean has = value != null && !value.isNull();
      if (firstLine < 0) {
        firstLine = line;
        grouped = has;
      } else if (has != grouped) {
        throw new BadRecord(has ? "has a \"" + field + "\" but the first record (" + place.apply(firstLine)
            + ") has none: label every record's group, or none"
            : "field \"" + field + "\" is " + (value == null ? "missing" : "null") + " (the first record, "
                + place.apply(firstLine) + ", has one)");
      }
      if (!has) {
        return SINGLE_GROUP;
      }
      if (value.isTextual()) {
        if (value.textValue().isEmpty()) {
          throw new BadRecord("field \"" + field + "\" is an empty string");
        }
        if (firstIntegerLine >= 0) {
          throw mixed("a string", "an integer", firstIntegerLine, value);
        }
        firstStringLine = firstStringLine < 0 ? line : firstStringLine;
        return value.textValue();
      }
      if (value.isIntegralNumber()) {
        if (firstStringLine >= 0) {
          throw mixed("an integer", "a string", firstStringLine, value);
        }
        firstIntegerLine = firstIntegerLine < 0 ? line : firstIntegerLine;
        return value.bigIntegerValue().toString();
      }
      throw new BadRecord("field \"" + field + "\" must be a string or an integer, got "
          + TableReader.describe(value));
    }

    private BadRecord mixed(String here, String there, long thereLine, JsonNode value) {
      return new BadRecord("field \"" + field + "\" is " + here + " (" + value + ") but " + there + " on "
          + place.apply(thereLine) + ": use one kind for every group of a file (integer 1 and string \"1\" would be "
          + "the same group)");
    }
  }

  private static Content[] texts(JsonNode prompt, JsonNode chosen, JsonNode rejected) {
    String c = text(chosen, "chosen");
    String r = text(rejected, "rejected");
    if (prompt != null) {
      return new Content[] {new Content.Text(text(prompt, "prompt")), new Content.Text(c), new Content.Text(r)};
    }
    int[] chosenPoints = c.codePoints().toArray();
    int[] rejectedPoints = r.codePoints().toArray();
    int split = sharedPrefix(chosenPoints.length, rejectedPoints.length,
        i -> chosenPoints[i] == rejectedPoints[i]);
    if (split > 0 && chosenPoints[split - 1] == ' ') {
      split--;
    }
    if (split == 0) {
      throw new BadRecord("no \"prompt\", and \"chosen\" and \"rejected\" do not start alike, so no prompt can be "
          + "taken from them: add a \"prompt\" field");
    }
    return new Content[] {
        new Content.Text(new String(chosenPoints, 0, split)),
        new Content.Text(new String(chosenPoints, split, chosenPoints.length - split)),
        new Content.Text(new String(rejectedPoints, split, rejectedPoints.length - split))};
  }

  private static Content[] conversation(JsonNode prompt, JsonNode chosen, JsonNode rejected) {
    List<Map<String, Object>> c = messages(chosen, "chosen");
    List<Map<String, Object>> r = messages(rejected, "rejected");
    if (prompt != null) {
      return new Content[] {new Content.Messages(messages(prompt, "prompt")), new Content.Messages(c),
          new Content.Messages(r)};
    }
    int split = sharedPrefix(c.size(), r.size(), i -> c.get(i).equals(r.get(i)));
    if (split == 0) {
      throw new BadRecord("no \"prompt\", and the first messages of \"chosen\" and \"rejected\" differ, so no prompt "
          + "can be taken from them: add a \"prompt\" list of messages");
    }
    return new Content[] {new Content.Messages(c.subList(0, split)),
        new Content.Messages(c.subList(split, c.size())), new Content.Messages(r.subList(split, r.size()))};
  }

  /**
   * Where TRL's {@code extract_prompt} splits: the first position where the two differ, or, when one is a prefix
   * of the other, the last position of the shorter (so that both keep a response).
   */
  private static int sharedPrefix(int lengthA, int lengthB, IntPredicate sameAt) {
    int n = Math.min(lengthA, lengthB);
    for (int i = 0; i < n; i++) {
      if (!sameAt.test(i)) {
        return i;
      }
    }
    return Math.max(0, n - 1);
  }

  private static String text(JsonNode value, String field) {
    if (!value.isTextual()) {
      throw new BadRecord("field \"" + field + "\" must be a string, got " + TableReader.describe(value)
          + (value.isArray() ? " (messages? then \"chosen\" and \"rejected\" must be messages too)" : ""));
    }
    if (value.textValue().isEmpty()) {
      throw new BadRecord("field \"" + field + "\" is an empty string");
    }
    return value.textValue();
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> messages(JsonNode value, String field) {
    if (!value.isArray()) {
      throw new BadRecord("field \"" + field + "\" must be a list of messages like the other fields, got "
          + TableReader.describe(value));
    }
    if (value.isEmpty()) {
      throw new BadRecord("field \"" + field + "\" is an empty list of messages");
    }
    List<Map<String, Object>> messages = new ArrayList<>(value.size());
    int i = 0;
    for (JsonNode message : value) {
      i++;
      String where = "message " + i + " of \"" + field + "\"";
      if (!message.isObject()) {
        throw new BadRecord(where + " must be an object with \"role\" and \"content\", got "
            + TableReader.describe(message));
      }
      JsonNode role = message.get("role");
      if (role == null || !role.isTextual() || role.textValue().isEmpty()) {
        throw new BadRecord(where + " needs a non-empty string \"role\" (user, assistant, system, ...)");
      }
      JsonNode content = message.get("content");
      boolean toolCall = message.hasNonNull("tool_calls");
      if ((content == null || content.isNull()) && !toolCall) {
        throw new BadRecord(where + " has no \"content\"");
      }
      if (content != null && !content.isNull() && !content.isTextual() && !content.isArray()) {
        throw new BadRecord(where + ": \"content\" must be a string (or a list of content parts), got "
            + TableReader.describe(content));
      }
      messages.add(JSON.convertValue(message, Map.class));
    }
    return messages;
  }

  private static JsonNode present(JsonNode record, String field) {
    JsonNode value = record.get(field);
    if (value == null) {
      throw new BadRecord("field \"" + field + "\" is missing");
    }
    if (value.isNull()) {
      throw new BadRecord("field \"" + field + "\" is null");
    }
    return value;
  }

  /** What is wrong with one record, without the {@code file:line:} prefix; cheap, as lenient reads make many. */
  private static final class BadRecord extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BadRecord(String message) {
      super(message, null, false, false);
    }
  }
}
