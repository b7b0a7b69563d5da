package dev.grpo4j.ffm;

import static java.lang.foreign.ValueLayout.ADDRESS;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Device memory staging through the library's own CUDA helpers (the JVM has no CUDA binding). */
final class Cuda {
  private Cuda() {}

  static MemorySegment malloc(long bytes) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment pointer = arena.allocate(ADDRESS);
      int status = Abi.call(() -> (int) Abi.CUDA_MALLOC.invokeExact(pointer, bytes));
      Abi.check(status, "grpo4j cudaMalloc of " + bytes + " bytes");
      return pointer.get(ADDRESS, 0).reinterpret(bytes);
    }
  }

  static void free(MemorySegment pointer) {
    int status = Abi.call(() -> (int) Abi.CUDA_FREE.invokeExact(pointer));
    Abi.check(status, "grpo4j cudaFree");
  }

  static void copy(MemorySegment destination, MemorySegment source, long bytes, MemorySegment stream) {
    int status = Abi.call(() -> (int) Abi.CUDA_MEMCPY.invokeExact(destination, source, bytes, stream));
    Abi.check(status, "grpo4j cudaMemcpyAsync");
  }

  static void synchronize(MemorySegment stream) {
    int status = Abi.call(() -> (int) Abi.CUDA_SYNCHRONIZE.invokeExact(stream));
    Abi.check(status, "grpo4j cudaStreamSynchronize");
  }
}
