package dev.grpo4j;

/** Where the kernels run, and so where every memory segment passed to them must live. */
public enum Backend {
  /** Multithreaded vectorised CPU kernels; segments in host (off-heap) memory. */
  CPU(0),
  /** CUDA kernels; segments wrap device addresses (e.g. {@code MemorySegment.ofAddress(ptr).reinterpret(n)}). */
  CUDA(1),
  /** Single-threaded double-precision loops: the slow oracle the fast backends are tested against. Host memory. */
  REFERENCE(2);

  private final int abiCode;

  Backend(int abiCode) {
    this.abiCode = abiCode;
  }

  /** Its value in {@code grpo4j.h}: fixed there, whatever the order of the constants here. */
  int abiCode() {
    return abiCode;
  }
}
