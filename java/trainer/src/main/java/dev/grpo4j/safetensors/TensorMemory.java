package dev.grpo4j.safetensors;

import dev.grpo4j.platform.LibTorch;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/** The bridge between libtorch tensors and memory segments that the reader and the writer share. */
final class TensorMemory {
  static {
    LibTorch.load();
  }

  private TensorMemory() {}

  /** A new, uninitialised CPU tensor. */
  static Tensor emptyCpu(DType dtype, long[] shape) {
    return torch.empty(shape, new TensorOptions(dtype.scalarType()), new MemoryFormatOptional());
  }

  /**
   * The bytes of a contiguous CPU tensor. The segment does not keep the tensor alive: the caller must hold it (e.g.
   * with {@link java.lang.ref.Reference#reachabilityFence}) until the last access.
   */
  static MemorySegment bytes(Tensor contiguousCpu) {
    long length = contiguousCpu.nbytes();
    if (length == 0) {
      // An empty tensor may have no allocation at all (a null data pointer).
      return MemorySegment.NULL;
    }
    return MemorySegment.ofAddress(contiguousCpu.data_ptr().address()).reinterpret(length);
  }

  /** The tensor's dimensions, outermost first. */
  static long[] shape(Tensor t) {
    long[] shape = new long[(int) t.dim()];
    for (int i = 0; i < shape.length; i++) {
      shape[i] = t.size(i);
    }
    return shape;
  }

  /** {@code shape} as {@code [2, 3]}, for messages. */
  static String format(long[] shape) {
    return Arrays.toString(shape);
  }
}
