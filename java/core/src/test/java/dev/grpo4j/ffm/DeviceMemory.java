package dev.grpo4j.ffm;

import java.lang.foreign.MemorySegment;

/** Test access to device memory through the library's CUDA helpers. */
public final class DeviceMemory implements AutoCloseable {
  private final MemorySegment segment;

  private DeviceMemory(MemorySegment segment) {
    this.segment = segment;
  }

  /** A device copy of a host segment. */
  public static DeviceMemory copyOf(MemorySegment host) {
    DeviceMemory device = new DeviceMemory(Cuda.malloc(host.byteSize()));
    Cuda.copy(device.segment, host, host.byteSize(), MemorySegment.NULL);
    Cuda.synchronize(MemorySegment.NULL);
    return device;
  }

  public MemorySegment segment() {
    return segment;
  }

  public void copyTo(MemorySegment host) {
    Cuda.copy(host, segment, segment.byteSize(), MemorySegment.NULL);
    Cuda.synchronize(MemorySegment.NULL);
  }

  @Override
  public void close() {
    Cuda.free(segment);
  }
}
