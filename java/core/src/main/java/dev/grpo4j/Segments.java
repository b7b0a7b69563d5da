package dev.grpo4j;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Checks that a segment can be handed to the native kernels, with messages that say how to fix it. The kernels see
 * only raw addresses, so every protection the FFM API gives a segment (bounds, confinement, read-only mappings) has
 * to be checked here, before the call.
 */
final class Segments {
  private Segments() {}

  /** A segment the kernel reads or writes, with the exact byte count its declared shape and type give it. */
  record Use(String name, MemorySegment segment, long bytes, boolean written) {}

  static void requirePresent(MemorySegment segment, String name) {
    if (segment == null) {
      throw new IllegalArgumentException(name + " is null: pass a memory segment");
    }
  }

  /**
   * A usable segment of exactly {@code bytes} bytes: larger ones are refused too, because a size that does not match
   * the declared shape and element type almost always means a wrong declaration (f32 data declared as bf16 reads as
   * garbage), and the kernel would never know.
   *
   * @param written whether the kernel writes into it
   */
  static void require(MemorySegment segment, String name, long bytes, int alignment, Backend backend,
                      boolean written) {
    requirePresent(segment, name);
    if (!segment.scope().isAlive()) {
      throw new IllegalArgumentException(name + " belongs to a closed arena: keep its arena open until the call "
          + "returns");
    }
    if (!segment.isNative()) {
      throw new IllegalArgumentException(name + " is a heap segment: the kernels run outside the JVM heap and need "
          + "off-heap memory; allocate it with an Arena (arena.allocate) and copy the data there");
    }
    if (!segment.isAccessibleBy(Thread.currentThread())) {
      throw new IllegalArgumentException(name + " belongs to a confined arena of another thread: call from the "
          + "thread that owns it, or allocate it with Arena.ofShared() or Arena.ofAuto()");
    }
    if (segment.address() == 0) {
      throw new IllegalArgumentException(name + " is the NULL address");
    }
    if (written && segment.isReadOnly()) {
      throw new IllegalArgumentException(name + " is read-only (a READ_ONLY file mapping, or asReadOnly()): the "
          + "kernel writes into it; pass a writable segment");
    }
    if (segment.byteSize() < bytes) {
      throw new IllegalArgumentException(name + " holds " + segment.byteSize() + " bytes but the shapes need " + bytes
          + (backend == Backend.CUDA ? " (for device memory use MemorySegment.ofAddress(ptr).reinterpret(bytes))"
              : ""));
    }
    if (segment.byteSize() > bytes) {
      throw new IllegalArgumentException(name + " holds " + segment.byteSize() + " bytes but its declared shape and "
          + "element type need exactly " + bytes + ": check the element type (" + (segment.byteSize() % bytes == 0
              ? segment.byteSize() / bytes + "x the bytes: f32 data declared as a 16-bit type?" : "and the shape")
          + "), or pass " + name + ".asSlice(0, " + bytes + ") to use the start of a larger buffer");
    }
    if (segment.address() % alignment != 0) {
      throw new IllegalArgumentException(name + " starts at address 0x" + Long.toHexString(segment.address())
          + ", which is not aligned to its " + alignment + "-byte elements");
    }
  }

  /**
   * Refuses overlapping segments: the kernel reads its inputs while it writes its outputs, in an order that only
   * the exact in-place case (a written segment that is the very same memory as {@code sameAllowed}) survives.
   *
   * @param sameAllowed the one input a written segment may coincide with exactly, or null
   */
  static void requireDisjoint(List<Use> uses, MemorySegment sameAllowed) {
    for (int i = 0; i < uses.size(); i++) {
      for (int j = i + 1; j < uses.size(); j++) {
        Use a = uses.get(i);
        Use b = uses.get(j);
        long aStart = a.segment().address();
        long bStart = b.segment().address();
        boolean overlap = aStart < bStart + b.bytes() && bStart < aStart + a.bytes();
        if (!overlap) {
          continue;
        }
        boolean identical = aStart == bStart && a.bytes() == b.bytes();
        boolean inPlace = identical && sameAllowed != null && (a.written() || b.written())
            && (a.segment().address() == sameAllowed.address());
        if (!inPlace) {
          throw new IllegalArgumentException(a.name() + " and " + b.name() + " overlap in memory (0x"
              + Long.toHexString(aStart) + "+" + a.bytes() + " and 0x" + Long.toHexString(bStart) + "+" + b.bytes()
              + "): give each its own memory" + (a.written() || b.written() ? "; only grad may be the logits "
                  + "segment itself (in place)" : ""));
        }
      }
    }
  }
}
