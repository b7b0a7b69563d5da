package dev.grpo4j;

/** Where the kernels run, and so where every memory segment passed to them must live. */
public enum Backend {
  /** Multithreaded vectorised CPU kernels; segments in host (off-heap) memory. */
  CPU,
  /** CUDA kernels; segments wrap device addresses (e.g. {@code MemorySegment.ofAddress(ptr).reinterpret(n)}). */
  CUDA,
  /** Single-threaded double-precision loops: the slow oracle the fast backends are tested against. Host memory. */
  REFERENCE
}
