package dev.grpo4j.report;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import dev.grpo4j.io.AtomicFiles;
import dev.grpo4j.io.RunFolder;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The files a training run writes into its folder, and their readers. A run folder holds:
 *
 * <ul>
 *   <li>{@value #METRICS_FILE}: JSON Lines, one {@link StepMetrics} object per optimiser step, in step order;
 *   <li>{@value #EVAL_FILE}: JSON Lines, one {@link EvalMetrics} object per evaluation of a split, in the order
 *       they were run (validation evaluations during training, usually one test evaluation at the end).
 * </ul>
 *
 * <p>Both are UTF-8, one object per line, each line ended by {@code \n}; the field names and order are documented
 * on the two records, and {@link MetricsWriter} writes exactly that. Non-finite numbers are {@code null}. Readers
 * skip blank lines, accept {@code \r\n}, and ignore fields they do not know.
 *
 * <p>A writer that crashes can leave the last line incomplete (no final {@code \n}, cut-off JSON). Such a line is
 * skipped with a warning rather than failing the read, so a crashed or still-running run can be reported on; any
 * other malformed line is an error with its {@code file:line}.
 */
public final class RunLog {
  /** Name of the per-step training metrics file in a run folder. */
  public static final String METRICS_FILE = RunFolder.METRICS;
  /** Name of the evaluation results file in a run folder. */
  public static final String EVAL_FILE = RunFolder.EVALUATIONS;

  private static final System.Logger LOG = System.getLogger(RunLog.class.getName());
  private static final ObjectReader STEP_READER = RunJson.MAPPER.readerFor(StepMetrics.class);
  private static final ObjectReader EVAL_READER = RunJson.MAPPER.readerFor(EvalMetrics.class);

  private RunLog() {}

  /** {@code runDir/metrics.jsonl}. */
  public static Path metricsFile(Path runDir) {
    return new RunFolder(runDir).metrics();
  }

  /** {@code runDir/eval.jsonl}. */
  public static Path evalFile(Path runDir) {
    return new RunFolder(runDir).evaluations();
  }

  /**
   * Reads a {@code metrics.jsonl} file; an incomplete last line is logged as a warning (System.Logger
   * {@code dev.grpo4j.report.RunLog}) and skipped.
   *
   * @return the steps in file order; empty for an empty file
   * @throws RunLogFormatException on a malformed line other than an incomplete last one
   * @throws NoSuchFileException if the file does not exist
   * @throws IOException if it cannot be read
   */
  public static List<StepMetrics> readMetrics(Path file) throws IOException {
    return readMetrics(file, RunLog::logWarning);
  }

  /**
   * Reads a {@code metrics.jsonl} file, handing warnings (an incomplete last line skipped) to {@code warnings}.
   *
   * @param warnings receives {@code file:line: what was skipped}
   * @return the steps in file order; empty for an empty file
   * @throws RunLogFormatException on a malformed line other than an incomplete last one
   * @throws NoSuchFileException if the file does not exist
   * @throws IOException if it cannot be read
   */
  public static List<StepMetrics> readMetrics(Path file, Consumer<String> warnings) throws IOException {
    return read(file, STEP_READER, warnings);
  }

  /**
   * Reads an {@code eval.jsonl} file; an incomplete last line is logged as a warning and skipped.
   *
   * @return the evaluations in file order; empty for an empty file
   * @throws RunLogFormatException on a malformed line other than an incomplete last one
   * @throws NoSuchFileException if the file does not exist
   * @throws IOException if it cannot be read
   */
  public static List<EvalMetrics> readEval(Path file) throws IOException {
    return readEval(file, RunLog::logWarning);
  }

  /**
   * Reads an {@code eval.jsonl} file, handing warnings (an incomplete last line skipped) to {@code warnings}.
   *
   * @param warnings receives {@code file:line: what was skipped}
   * @return the evaluations in file order; empty for an empty file
   * @throws RunLogFormatException on a malformed line other than an incomplete last one
   * @throws NoSuchFileException if the file does not exist
   * @throws IOException if it cannot be read
   */
  public static List<EvalMetrics> readEval(Path file, Consumer<String> warnings) throws IOException {
    return read(file, EVAL_READER, warnings);
  }

  /**
   * Drops the lines of steps after {@code step} from the run's {@value #METRICS_FILE}, and from its
   * {@value #EVAL_FILE} those and every test evaluation: an interrupted run wrote them, its resumed run writes them
   * again. Each file is replaced whole, atomically; a missing one is left missing.
   *
   * @param step the step of the checkpoint a run resumes from; -1 to empty both
   */
  public static void truncate(Path runDir, int step, Consumer<String> warnings) throws IOException {
    Path metrics = metricsFile(runDir);
    if (Files.exists(metrics)) {
      rewrite(metrics, readMetrics(metrics, warnings).stream().filter(m -> m.step() <= step)
          .map(StepMetrics::toJson).toList());
    }
    Path evaluations = evalFile(runDir);
    if (Files.exists(evaluations)) {
      rewrite(evaluations, readEval(evaluations, warnings).stream()
          .filter(e -> e.step() <= step && e.split() == EvalMetrics.Split.VALIDATION).map(EvalMetrics::toJson)
          .toList());
    }
  }

  private static void rewrite(Path file, List<String> lines) throws IOException {
    AtomicFiles.write(file, stream -> {
      BufferedWriter w = new BufferedWriter(new OutputStreamWriter(stream, StandardCharsets.UTF_8));
      for (String line : lines) {
        w.write(line);
        w.write('\n');
      }
      w.flush();
    });
  }

  static void logWarning(String message) {
    LOG.log(System.Logger.Level.WARNING, message);
  }

  private static <T> List<T> read(Path file, ObjectReader reader, Consumer<String> warnings) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "run log not found");
    }
    List<T> records = new ArrayList<>();
    // A Reader with replacement of bad UTF-8 rather than an error: a crash can cut a multi-byte character at the
    // end of the file, and that line is then skipped like any other incomplete last line.
    try (Reader in = new BufferedReader(new InputStreamReader(Files.newInputStream(file), StandardCharsets.UTF_8),
        1 << 16)) {
      StringBuilder text = new StringBuilder(256);
      long line = 0;
      while (true) {
        int c = in.read();
        if (c != '\n' && c != -1) {
          text.append((char) c);
          continue;
        }
        if (c == -1 && text.isEmpty()) {
          break;
        }
        line++;
        boolean terminated = c == '\n';
        String content = strip(text, line);
        text.setLength(0);
        if (content.isBlank()) {
          continue;
        }
        try {
          records.add(reader.readValue(content));
        } catch (JacksonException e) {
          if (!terminated) {
            warnings.accept(file + ":" + line + ": skipped the incomplete last line (" + content.length()
                + " characters, no line end): the writer was probably interrupted mid-line");
          } else {
            throw new RunLogFormatException(file, line, problem(e), e);
          }
        }
        if (!terminated) {
          break;
        }
      }
    }
    return records;
  }

  private static String strip(StringBuilder text, long line) {
    int end = text.length();
    if (end > 0 && text.charAt(end - 1) == '\r') {
      end--;
    }
    int start = line == 1 && end > 0 && text.charAt(0) == '\uFEFF' ? 1 : 0;
    return text.substring(start, end);
  }

  /** The parser's message without its source excerpt, with the field and column where it knows them. */
  private static String problem(JacksonException e) {
    if (e instanceof ValueInstantiationException && e.getCause() instanceof IllegalArgumentException invalid) {
      return "invalid record: " + invalid.getMessage();
    }
    String original = e.getOriginalMessage();
    String field = e instanceof JsonMappingException mapping ? fieldPath(mapping) : "";
    if (!field.isEmpty()) {
      // Jackson words these in terms of its own settings; the field name is what the reader needs.
      if (original.startsWith("Missing creator property") || original.startsWith("Missing required creator property")) {
        return "field \"" + field + "\" is missing";
      }
      if (original.startsWith("Null value for creator property") || original.startsWith("Cannot map `null`")) {
        return "field \"" + field + "\" is null";
      }
    }
    StringBuilder message = new StringBuilder(original);
    if (!field.isEmpty()) {
      message.append(" (field \"").append(field).append("\")");
    }
    JsonLocation where = e.getLocation();
    if (where != null && where.getColumnNr() > 0) {
      message.append(" (column ").append(where.getColumnNr()).append(')');
    }
    return message.toString();
  }

  private static String fieldPath(JsonMappingException e) {
    StringBuilder field = new StringBuilder();
    for (JsonMappingException.Reference ref : e.getPath()) {
      if (ref.getFieldName() != null) {
        field.append(field.isEmpty() ? "" : ".").append(ref.getFieldName());
      } else if (ref.getIndex() >= 0) {
        field.append('[').append(ref.getIndex()).append(']');
      }
    }
    return field.toString();
  }
}
