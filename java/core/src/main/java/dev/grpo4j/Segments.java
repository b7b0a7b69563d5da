package dev.grpo4j;

import java.lang.foreign.MemorySegment;

/** Checks that a segment can be handed to the native kernels, with messages that say how to fix it. */
final class Segments {
  private Segments() {}

  static void requirePresent(MemorySegment segment, String name) {
    if (segment == null) {
      throw new IllegalArgumentException(name + " is null: pass a memory segment");
    }
  }

  static void require(MemorySegment segment, String name, long bytes, int alignment, Backend backend) {
    requirePresent(segment, name);
    if (!segment.scope().isAlive()) {
      throw new IllegalArgumentException(name + " belongs to a closed arena: keep its arena open until the call returns");
    }
    if (!segment.isNative()) {
      throw new IllegalArgumentException(name + " is a heap segment: the kernels run outside the JVM heap and need "
          + "off-heap memory; allocate it with an Arena (arena.allocate) and copy the data there");
    }
    if (segment.address() == 0) {
      throw new IllegalArgumentException(name + " is the NULL address");
    }
    if (segment.byteSize() < bytes) {
      throw new IllegalArgumentException(name + " holds " + segment.byteSize() + " bytes but the shapes need " + bytes
          + (backend == Backend.CUDA ? " (for device memory use MemorySegment.ofAddress(ptr).reinterpret(bytes))" : ""));
    }
    if (segment.address() % alignment != 0) {
      throw new IllegalArgumentException(name + " starts at address 0x" + Long.toHexString(segment.address())
          + ", which is not aligned to its " + alignment + "-byte elements");
    }
  }
}
