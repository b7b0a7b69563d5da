package dev.grpo4j.ffm;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;

/**
 * A grow-only device buffer that the calls of one owner (a loss, a thread's token passes) stage their small inputs
 * and outputs in, so that a call costs no cudaMalloc and no cudaFree (which waits for the whole device). A call
 * must be done with it before the next begins: every call here waits for its stream before it returns.
 */
final class DeviceScratch implements AutoCloseable {
  private static final Cleaner CLEANER = Cleaner.create();

  /** The allocation, apart from the scratch so that the cleaner can free it once the scratch is unreachable. */
  private static final class Allocation implements Runnable {
    private MemorySegment segment = MemorySegment.NULL;

    @Override
    public void run() {
      if (segment.address() != 0) {
        Cuda.free(segment);
      }
      segment = MemorySegment.NULL;
    }
  }

  private final Allocation allocation = new Allocation();
  private final Cleaner.Cleanable cleanable = CLEANER.register(this, allocation);

  /** At least {@code bytes} of device memory; the contents of a smaller earlier buffer are not kept. */
  MemorySegment ensure(long bytes) {
    MemorySegment segment = allocation.segment;
    if (segment.address() == 0 || segment.byteSize() < bytes) {
      long size = Math.max(bytes, Math.max(4096, 2 * segment.byteSize()));
      allocation.run();
      allocation.segment = Cuda.malloc(size);
    }
    return allocation.segment;
  }

  @Override
  public void close() {
    cleanable.clean();
  }
}
