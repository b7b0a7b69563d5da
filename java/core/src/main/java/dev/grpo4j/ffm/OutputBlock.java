package dev.grpo4j.ffm;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A loss's staging block: the group state going in and the small per-pair and per-group outputs coming out, in host
 * memory, mirrored in device memory for CUDA. Layout, for a capacity of P pairs and K groups: log_alpha [K] f64,
 * group_sizes [K] i64, loss [1] f32, six pair outputs [P] f32 each, seven group outputs [K] f32 each,
 * group_count [K] i32, flags [1] i32 (the fields of grpo4j_outputs from loss on). It grows, never shrinks.
 */
final class OutputBlock implements AutoCloseable {
  static final int PAIR_OUTPUTS = 6;
  static final int GROUP_OUTPUTS = 7;

  private final Arena arena;
  private final boolean cuda;
  private final MemorySegment stream;
  private final int groups;
  private final long[] groupSizes;
  private int capacity;
  private MemorySegment host;
  private MemorySegment device = MemorySegment.NULL;

  OutputBlock(Arena arena, boolean cuda, MemorySegment stream, int groups, long[] groupSizes) {
    this.arena = arena;
    this.cuda = cuda;
    this.stream = stream;
    this.groups = groups;
    this.groupSizes = groupSizes.clone();
  }

  /** Makes room for {@code pairs}; true when the block moved, so that the batch struct must point at it again. */
  boolean ensureCapacity(int pairs) {
    if (host != null && pairs <= capacity) {
      return false;
    }
    int newCapacity = Math.max(pairs, Math.max(16, capacity * 2));
    long bytes = bytes(newCapacity);
    MemorySegment newHost = arena.allocate(bytes, 8);
    MemorySegment.copy(groupSizes, 0, newHost, JAVA_LONG, 8L * groups, groups);
    if (cuda) {
      MemorySegment newDevice = Cuda.malloc(bytes);
      // The phase calls bring the whole block back after a kernel: the device copy must hold the group sizes
      // (and defined bytes everywhere) from the start, or that copy overwrites the host's with uninitialised memory.
      Cuda.copy(newDevice, newHost, bytes, stream);
      if (device.address() != 0) {
        Cuda.free(device);
      }
      device = newDevice;
    }
    host = newHost;
    capacity = newCapacity;
    return true;
  }

  /** Where the kernels read and write: the device copy on CUDA, else the host block. */
  MemorySegment target() {
    return cuda ? device : host;
  }

  long groupSizesOffset() {
    return 8L * groups;
  }

  /** Offset of output field i (grpo4j_outputs order) in the block at the current capacity. */
  long outputOffset(int field) {
    long offset = 16L * groups;
    if (field == 0) {
      return offset;
    }
    offset += 4;
    if (field <= PAIR_OUTPUTS) {
      return offset + 4L * capacity * (field - 1);
    }
    offset += 4L * capacity * PAIR_OUTPUTS;
    // Group outputs, then group_count, then flags: all K-long 4-byte arrays except flags.
    return offset + 4L * groups * (field - 1 - PAIR_OUTPUTS);
  }

  private long flagsOffset() {
    return outputOffset(Abi.OUTPUT_FIELDS.length - 1);
  }

  private long bytes(int pairCapacity) {
    return 16L * groups + 4 + 4L * pairCapacity * PAIR_OUTPUTS + 4L * groups * (GROUP_OUTPUTS + 1) + 4;
  }

  void putLogAlpha(double[] logAlpha) {
    MemorySegment.copy(logAlpha, 0, host, JAVA_DOUBLE, 0, groups);
  }

  void getLogAlpha(double[] logAlpha) {
    MemorySegment.copy(host, JAVA_DOUBLE, 0, logAlpha, 0, groups);
  }

  /** On CUDA, queues the copy of the group state (log_alpha and group_sizes) to the device. */
  void uploadGroupState() {
    if (cuda) {
      Cuda.copy(device, host, 16L * groups, stream);
    }
  }

  /** On CUDA, queues the copy of the whole block to the device. */
  void upload() {
    if (cuda) {
      Cuda.copy(device, host, bytes(capacity), stream);
    }
  }

  /** On CUDA, queues the copy of the whole block back to the host. */
  void download() {
    if (cuda) {
      Cuda.copy(host, device, bytes(capacity), stream);
    }
  }

  /** On CUDA, clears the flags word and queues its copy to the device. */
  void clearFlags() {
    if (cuda) {
      host.set(JAVA_INT, flagsOffset(), 0);
      Cuda.copy(device.asSlice(flagsOffset()), host.asSlice(flagsOffset()), 4, stream);
    }
  }

  /** On CUDA, queues the copy of the flags word back to the host. */
  void downloadFlags() {
    if (cuda) {
      Cuda.copy(host.asSlice(flagsOffset()), device.asSlice(flagsOffset()), 4, stream);
    }
  }

  /** Clears the host's flags word (before a whole-block upload). */
  void clearHostFlags() {
    host.set(JAVA_INT, flagsOffset(), 0);
  }

  int flags() {
    return host.get(JAVA_INT, flagsOffset());
  }

  float loss() {
    return host.get(JAVA_FLOAT, outputOffset(0));
  }

  float[][] pairOutputs(int pairs) {
    float[][] pair = new float[PAIR_OUTPUTS][pairs];
    for (int i = 0; i < PAIR_OUTPUTS; i++) {
      MemorySegment.copy(host, JAVA_FLOAT, outputOffset(1 + i), pair[i], 0, pairs);
    }
    return pair;
  }

  float[][] groupOutputs() {
    float[][] group = new float[GROUP_OUTPUTS][groups];
    for (int i = 0; i < GROUP_OUTPUTS; i++) {
      MemorySegment.copy(host, JAVA_FLOAT, outputOffset(1 + PAIR_OUTPUTS + i), group[i], 0, groups);
    }
    return group;
  }

  int[] groupCounts() {
    int[] counts = new int[groups];
    MemorySegment.copy(host, JAVA_INT, outputOffset(1 + PAIR_OUTPUTS + GROUP_OUTPUTS), counts, 0, groups);
    return counts;
  }

  @Override
  public void close() {
    if (cuda && device.address() != 0) {
      Cuda.free(device);
    }
    device = MemorySegment.NULL;
  }
}
