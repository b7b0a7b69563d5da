package dev.grpo4j.ffm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The inputs and outputs of one native call: a host buffer and, on CUDA, a device buffer of at least the same size
 * that the kernels read and write, taken from the caller's {@link DeviceScratch}. On the CPU backends the two are
 * one. The host buffer lives as long as the caller's arena.
 */
final class CallBuffer {
  private final MemorySegment host;
  private final MemorySegment target;
  private final MemorySegment stream;
  private final boolean cuda;

  CallBuffer(Arena arena, long bytes, DeviceScratch scratch, MemorySegment stream) {
    this.host = arena.allocate(Math.max(bytes, 1), 16);
    this.cuda = scratch != null;
    this.stream = stream;
    this.target = cuda ? scratch.ensure(Math.max(bytes, 1)) : host;
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
}
