package dev.grpo4j.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;

/**
 * Exclusive use of a folder by one process, for as long as the lock is held: an operating-system lock on the file
 * {@value #FILE} inside it. The operating system releases the lock when its process dies however it dies, so a
 * lock left by a crashed or killed process is simply taken over; the file then still names that process, which
 * {@link #previousOwner()} reports.
 */
public final class FolderLock implements AutoCloseable {
  public static final String FILE = ".grpo4j.lock";

  private final FileChannel channel;
  private final FileLock lock;
  private final String previousOwner;

  private FolderLock(FileChannel channel, FileLock lock, String previousOwner) {
    this.channel = channel;
    this.lock = lock;
    this.previousOwner = previousOwner;
  }

  /**
   * Locks {@code folder}, creating it when missing.
   *
   * @param what how the folder is named to the user in the error, e.g. {@code "--out runs/a"}
   * @throws IllegalArgumentException when another process (or another run in this JVM) holds the lock; the message
   *     names its process id and start time
   * @throws UncheckedIOException when the folder or the lock file cannot be created
   */
  public static FolderLock acquire(Path folder, String what) {
    FileChannel channel = null;
    try {
      Files.createDirectories(folder);
      channel = FileChannel.open(folder.resolve(FILE), StandardOpenOption.CREATE, StandardOpenOption.READ,
          StandardOpenOption.WRITE);
      FileLock lock;
      try {
        lock = channel.tryLock();
      } catch (OverlappingFileLockException e) {
        lock = null;
      }
      String owner = read(channel);
      if (lock == null) {
        channel.close();
        throw new IllegalArgumentException(what + " is in use by another grpo4j process"
            + (owner.isEmpty() ? "" : " (" + owner + ")") + "; wait for it to finish, or choose another folder");
      }
      channel.truncate(0);
      channel.write(ByteBuffer.wrap(("pid " + ProcessHandle.current().pid() + ", since " + Instant.now())
          .getBytes(StandardCharsets.UTF_8)), 0);
      channel.force(false);
      return new FolderLock(channel, lock, owner);
    } catch (IOException e) {
      closeQuietly(channel);
      throw new UncheckedIOException("cannot lock " + what + " (" + folder.resolve(FILE) + "): " + e.getMessage(), e);
    }
  }

  /**
   * The process that held the lock last without releasing it properly (it crashed or was killed), as the lock
   * file describes it; empty when the folder was free.
   */
  public String previousOwner() {
    return previousOwner;
  }

  /** Releases the lock; the file is emptied so that the next owner sees a clean hand-over. */
  @Override
  public void close() {
    try {
      channel.truncate(0);
      lock.release();
    } catch (IOException ignored) {
      // Closing the channel below releases the lock all the same.
    } finally {
      closeQuietly(channel);
    }
  }

  private static String read(FileChannel channel) throws IOException {
    ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(channel.size(), 4096));
    channel.read(buffer, 0);
    return new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8).strip();
  }

  private static void closeQuietly(FileChannel channel) {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException ignored) {
        // Nothing left to release.
      }
    }
  }
}
