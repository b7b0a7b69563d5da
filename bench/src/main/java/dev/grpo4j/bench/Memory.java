package dev.grpo4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The process's resident memory from /proc/self/status, and its high-water mark, which writing "5" to
 * /proc/self/clear_refs resets to the current RSS (Linux 4.0+). Each benchmark variant runs in its own JMH fork,
 * so the peak of one measurement iteration minus the RSS at its start is what that variant allocated beyond its
 * inputs while it ran (native and Java: the heap is fixed and pre-touched by the fork's flags, so it adds nothing).
 */
final class Memory {
  private static final Path STATUS = Path.of("/proc/self/status");
  private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

  private Memory() {}

  /** Resets the high-water mark; false where the kernel does not allow it. */
  static boolean resetPeak() {
    try {
      Files.writeString(CLEAR_REFS, "5");
      return true;
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      return false;
    }
  }

  static long residentBytes() {
    return statusKb("VmRSS:") * 1024;
  }

  static long peakResidentBytes() {
    return statusKb("VmHWM:") * 1024;
  }

  private static long statusKb(String field) {
    try {
      for (String line : Files.readAllLines(STATUS)) {
        if (line.startsWith(field)) {
          return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]);
        }
      }
    } catch (IOException | RuntimeException e) {
      return -1;
    }
    return -1;
  }
}
