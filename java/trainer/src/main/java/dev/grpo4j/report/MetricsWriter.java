package dev.grpo4j.report;

import com.fasterxml.jackson.core.JacksonException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.Function;

/**
 * Appends records to a run-log file ({@code metrics.jsonl} or {@code eval.jsonl}), one line per {@link #append}
 * call. Each line, with its {@code \n}, goes to the file in a single unbuffered write, so a crash of the process
 * loses at most the line being written and readers (a report written while training runs, {@code tail -f}) see
 * whole lines. Nothing is forced to disk, so a power failure can lose what the operating system had not yet
 * written out.
 *
 * <p>The file is opened for appending, so a resumed run continues its logs. If it does not end with {@code \n}, the
 * new lines must not run into its last one: a last line that is a complete record (a file from another tool) gets
 * its line end; one that is not (the previous writer crashed mid-line) is removed, with a warning. Appends are
 * synchronized, so threads may share one writer.
 *
 * @param <T> {@link StepMetrics} or {@link EvalMetrics}
 */
public final class MetricsWriter<T> implements AutoCloseable {
  private final Path file;
  private final Function<T, String> toJson;
  private final OutputStream out;

  private MetricsWriter(Path file, Class<T> type, Function<T, String> toJson) throws IOException {
    this.file = file;
    this.toJson = toJson;
    endLastLine(file, type);
    this.out = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.APPEND);
  }

  /**
   * Opens {@code file} (normally {@link RunLog#metricsFile}) to append training steps, creating it if needed.
   *
   * @throws IOException if the file cannot be opened or its incomplete last line cannot be removed
   */
  public static MetricsWriter<StepMetrics> steps(Path file) throws IOException {
    return new MetricsWriter<>(file, StepMetrics.class, StepMetrics::toJson);
  }

  /**
   * Opens {@code file} (normally {@link RunLog#evalFile}) to append evaluations, creating it if needed.
   *
   * @throws IOException if the file cannot be opened or its incomplete last line cannot be removed
   */
  public static MetricsWriter<EvalMetrics> evaluations(Path file) throws IOException {
    return new MetricsWriter<>(file, EvalMetrics.class, EvalMetrics::toJson);
  }

  /** The file appended to. */
  public Path file() {
    return file;
  }

  /**
   * Appends {@code record} as one line and flushes it.
   *
   * @throws IOException if the line cannot be written
   */
  public synchronized void append(T record) throws IOException {
    byte[] line = (toJson.apply(record) + "\n").getBytes(StandardCharsets.UTF_8);
    out.write(line);
    out.flush();
  }

  @Override
  public synchronized void close() throws IOException {
    out.close();
  }

  /**
   * Makes {@code file}, if it exists and is not empty, end with {@code \n}: an unterminated last line that reads as
   * a {@code type} record gets its line end, anything else after the last line end is cut off. This writer ends
   * each line in the same write as its content, so such bytes can only be a line cut short by a crash.
   */
  static void endLastLine(Path file, Class<?> type) throws IOException {
    if (!Files.exists(file)) {
      return;
    }
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      long size = channel.size();
      long keep = lastLineEnd(channel, size);
      if (keep == size) {
        return;
      }
      if (size - keep > Integer.MAX_VALUE - 8) {
        throw new IOException(file + ": the last line is " + (size - keep) + " bytes long: not a run log");
      }
      ByteBuffer tail = ByteBuffer.allocate((int) (size - keep));
      readFully(channel, tail, keep);
      if (isRecord(new String(tail.array(), StandardCharsets.UTF_8), type)) {
        channel.write(ByteBuffer.wrap(new byte[] {'\n'}), size);
      } else {
        RunLog.logWarning(file + ": removed an incomplete last line (" + (size - keep)
            + " bytes after the last line end, left by an interrupted write) before appending");
        channel.truncate(keep);
      }
    }
  }

  /** The offset just after the last {@code \n}, 0 if there is none. */
  private static long lastLineEnd(FileChannel channel, long size) throws IOException {
    ByteBuffer chunk = ByteBuffer.allocate(8192);
    long chunkEnd = size;
    while (chunkEnd > 0) {
      int length = (int) Math.min(chunk.capacity(), chunkEnd);
      long chunkStart = chunkEnd - length;
      chunk.clear().limit(length);
      readFully(channel, chunk, chunkStart);
      for (int i = length - 1; i >= 0; i--) {
        if (chunk.get(i) == '\n') {
          return chunkStart + i + 1;
        }
      }
      chunkEnd = chunkStart;
    }
    return 0;
  }

  private static void readFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
    while (buffer.hasRemaining()) {
      if (channel.read(buffer, position + buffer.position()) < 0) {
        throw new IOException("the file shrank while being read");
      }
    }
  }

  private static boolean isRecord(String line, Class<?> type) {
    try {
      RunJson.MAPPER.readValue(line, type);
      return true;
    } catch (JacksonException e) {
      return false;
    }
  }
}
