package dev.grpo4j.ffm;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.ArrayList;
import java.util.List;

/** The native loss table ({@code grpo4j_loss_info_at}), read once. */
public final class LossTable {
  /** One loss as the native library registers it: TRL's name, a one-line formula, its ABI code, GRPO4J_LOSS_* bits. */
  public record Entry(String name, String formula, int code, int flags) {}

  public static final int USES_REFERENCE = 1;
  public static final int F_DIVERGENCE = 2;
  public static final int LABEL_SMOOTHING = 4;
  public static final int NEEDS_SMOOTHING = 8;
  public static final int LENGTHS = 16;
  public static final int SORTS = 32;
  public static final int TAU = 64;
  public static final int GAMMA = 128;

  static final StructLayout INFO = MemoryLayout.structLayout(
      ADDRESS.withName("name"),
      ADDRESS.withName("formula"),
      JAVA_INT.withName("code"),
      JAVA_INT.withName("flags"));
  private static final long TEXT_LIMIT = 4096;
  private static final List<Entry> ENTRIES = read();

  private LossTable() {}

  /** Every loss of the native library, in code order. */
  public static List<Entry> entries() {
    return ENTRIES;
  }

  private static List<Entry> read() {
    int count = Abi.call(() -> (int) Abi.LOSS_COUNT.invokeExact());
    List<Entry> entries = new ArrayList<>(count);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment info = arena.allocate(INFO);
      for (int i = 0; i < count; i++) {
        int index = i;
        Abi.check(Abi.call(() -> (int) Abi.LOSS_INFO_AT.invokeExact(index, info)), "grpo4j_loss_info_at");
        String name = info.get(ADDRESS, Abi.offset(INFO, "name")).reinterpret(TEXT_LIMIT).getString(0);
        String formula = info.get(ADDRESS, Abi.offset(INFO, "formula")).reinterpret(TEXT_LIMIT).getString(0);
        entries.add(new Entry(name, formula, info.get(JAVA_INT, Abi.offset(INFO, "code")),
            info.get(JAVA_INT, Abi.offset(INFO, "flags"))));
      }
    }
    return List.copyOf(entries);
  }
}
