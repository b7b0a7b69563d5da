package dev.grpo4j.ffm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The inputs and outputs of one native call: a host buffer and, on CUDA, a device buffer of the same size that the
 * kernels read and write. On the CPU backends the two are one. The device buffer is freed on close; the host buffer
 * lives as long as the caller's arena.
 */
final class CallBuffer implements AutoCloseable {
  private final MemorySegment host;
  private final MemorySegment target;
  private final MemorySegment stream;
  private final boolean cuda;

  CallBuffer(Arena arena, long bytes, boolean cuda, MemorySegment stream) {
    this.host = arena.allocate(Math.max(bytes, 1), 16);
    this.cuda = cuda;
    this.stream = stream;
    this.target = cuda ? Cuda.malloc(bytes) : host;
  }

  /** Where Java reads and writes. */
  MemorySegment host() {
    return host;
  }

  /** Where the kernels read and write, from {@code offset}. */
  MemorySegment target(long offset) {
    return target.asSlice(offset);
  }

  /** On CUDA, queues the copy of {@code bytes} from the host buffer's start to the device. */
  void upload(long bytes) {
    if (cuda) {
      Cuda.copy(target, host, bytes, stream);
    }
  }

  /** On CUDA, queues the copy of {@code bytes} at {@code offset} from the device to the host buffer. */
  void download(long offset, long bytes) {
    if (cuda) {
      Cuda.copy(host.asSlice(offset), target.asSlice(offset), bytes, stream);
    }
  }

  @Override
  public void close() {
    if (cuda) {
      Cuda.free(target);
    }
  }
}
