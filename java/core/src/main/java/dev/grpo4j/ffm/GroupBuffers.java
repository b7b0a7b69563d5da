package dev.grpo4j.ffm;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The group statistics ({@code [K][GROUP_STATS]} f64, row-major) and per-group coefficients ({@code [K]} f64) that
 * pass between the loss's phases: host segments, and on CUDA a device mirror of both (one allocation, made on first
 * use) that the kernels read and write.
 */
final class GroupBuffers implements AutoCloseable {
  private final boolean cuda;
  private final MemorySegment stream;
  private final int groups;
  private final MemorySegment stats;
  private final MemorySegment coef;
  private MemorySegment device = MemorySegment.NULL;

  GroupBuffers(Arena arena, boolean cuda, MemorySegment stream, int groups) {
    this.cuda = cuda;
    this.stream = stream;
    this.groups = groups;
    this.stats = arena.allocate(8L * groups * Abi.GROUP_STATS, 8);
    this.coef = arena.allocate(8L * groups, 8);
  }

  /** Where the kernels read and write the statistics. */
  MemorySegment statsTarget() {
    return cuda ? device().asSlice(0, stats.byteSize()) : stats;
  }

  /** Where the kernels read and write the coefficients. */
  MemorySegment coefTarget() {
    return cuda ? device().asSlice(stats.byteSize(), coef.byteSize()) : coef;
  }

  private MemorySegment device() {
    if (device.address() == 0) {
      device = Cuda.malloc(stats.byteSize() + coef.byteSize());
    }
    return device;
  }

  void putStats(double[] values) {
    MemorySegment.copy(values, 0, stats, JAVA_DOUBLE, 0, groups * Abi.GROUP_STATS);
  }

  double[] stats() {
    double[] values = new double[groups * Abi.GROUP_STATS];
    MemorySegment.copy(stats, JAVA_DOUBLE, 0, values, 0, values.length);
    return values;
  }

  void putCoef(double[] values) {
    MemorySegment.copy(values, 0, coef, JAVA_DOUBLE, 0, groups);
  }

  double[] coef() {
    double[] values = new double[groups];
    MemorySegment.copy(coef, JAVA_DOUBLE, 0, values, 0, groups);
    return values;
  }

  /** On CUDA, queues the statistics' copy to the device. */
  void uploadStats() {
    if (cuda) {
      Cuda.copy(statsTarget(), stats, stats.byteSize(), stream);
    }
  }

  /** On CUDA, queues the statistics' copy back to the host. */
  void downloadStats() {
    if (cuda) {
      Cuda.copy(stats, statsTarget(), stats.byteSize(), stream);
    }
  }

  /** On CUDA, queues the coefficients' copy to the device. */
  void uploadCoef() {
    if (cuda) {
      Cuda.copy(coefTarget(), coef, coef.byteSize(), stream);
    }
  }

  /** On CUDA, queues the coefficients' copy back to the host. */
  void downloadCoef() {
    if (cuda) {
      Cuda.copy(coef, coefTarget(), coef.byteSize(), stream);
    }
  }

  @Override
  public void close() {
    if (device.address() != 0) {
      Cuda.free(device);
    }
    device = MemorySegment.NULL;
  }
}
