package dev.grpo4j.train;

import dev.grpo4j.platform.LibTorch;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.ArchiveWriter;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.OutputArchive;

/**
 * An optimizer's state (AdamW's moments and step counts) in libtorch's own archive format, written and read so that
 * no failure can take the JVM down.
 *
 * <p>libtorch's {@code save_to(path)} aborts the process when the disk fills up: its stream writer throws, and its
 * destructor then writes the archive's end and throws again, which C++ turns into {@code std::terminate}. Here
 * libtorch hands the bytes to a Java callback that always reports success; the first write error is kept and thrown
 * as an {@link IOException} once libtorch is done.
 */
public final class OptimizerFile {
  static {
    LibTorch.load();
  }

  private OptimizerFile() {}

  /**
   * Writes {@code optimizer}'s state to {@code file}, which must not exist yet, and forces it to the disk.
   *
   * @throws IOException when the file cannot be created or written (a full disk among others); the caller deletes it
   */
  public static void save(Optimizer optimizer, Path file) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      write(optimizer, channel, file);
      channel.force(true);
    }
  }

  /** Writes the archive of {@code optimizer} into {@code channel}; {@code file} names it in errors. */
  static void write(Optimizer optimizer, FileChannel channel, Path file) throws IOException {
    try (OutputArchive archive = new OutputArchive(); ChannelWriter writer = new ChannelWriter(channel)) {
      optimizer.save(archive);
      archive.save_to(writer);
      writer.rethrow(file);
    }
  }

  /**
   * Replaces {@code optimizer}'s state with the one in {@code file}, saved for the same parameters in the same order.
   *
   * @throws IOException when the file is missing, truncated, not an optimizer state, or one for other parameters
   */
  public static void restore(Optimizer optimizer, Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IOException(file + " is missing");
    }
    try (InputArchive archive = new InputArchive()) {
      archive.load_from(file.toString());
      optimizer.load(archive);
    } catch (RuntimeException e) {
      throw new IOException(file + " is damaged or belongs to another model (libtorch: " + firstLine(e) + ")", e);
    }
  }

  /** The first line of a libtorch error, without the C++ frames that follow it. */
  static String firstLine(RuntimeException e) {
    String message = e.getMessage() == null ? e.toString() : e.getMessage();
    int end = message.indexOf('\n');
    return (end < 0 ? message : message.substring(0, end)).strip();
  }

  /** Streams libtorch's archive bytes into a channel; never reports a failure back to libtorch. */
  private static final class ChannelWriter extends ArchiveWriter {
    private final FileChannel channel;
    private IOException failure;

    ChannelWriter(FileChannel channel) {
      this.channel = channel;
    }

    @Override
    public long call(Pointer data, long size) {
      if (failure == null && size > 0) {
        try {
          ByteBuffer bytes = new BytePointer(data).capacity(size).asByteBuffer();
          while (bytes.hasRemaining()) {
            channel.write(bytes);
          }
        } catch (IOException e) {
          failure = e;
        }
      }
      return size;
    }

    void rethrow(Path file) throws IOException {
      if (failure != null) {
        throw new IOException("could not write " + file + ": " + failure.getMessage(), failure);
      }
    }
  }
}
