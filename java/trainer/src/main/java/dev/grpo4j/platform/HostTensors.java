package dev.grpo4j.platform;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** CPU tensors from Java arrays and back, copied through the tensor's data pointer. */
public final class HostTensors {
  static {
    LibTorch.load();
  }

  private HostTensors() {}

  /** A new int64 CPU tensor of {@code shape} holding {@code values}. */
  public static Tensor longs(long[] values, long... shape) {
    Tensor t = empty(ScalarType.Long, shape);
    MemorySegment.copy(values, 0, data(t), JAVA_LONG, 0, values.length);
    return t;
  }

  /** A new int32 CPU tensor of {@code shape} holding {@code values}. */
  public static Tensor ints(int[] values, long... shape) {
    Tensor t = empty(ScalarType.Int, shape);
    MemorySegment.copy(values, 0, data(t), JAVA_INT, 0, values.length);
    return t;
  }

  /** A new float32 CPU tensor of {@code shape} holding {@code values}. */
  public static Tensor floats(float[] values, long... shape) {
    Tensor t = empty(ScalarType.Float, shape);
    MemorySegment.copy(values, 0, data(t), JAVA_FLOAT, 0, values.length);
    return t;
  }

  /** Every element of a real-valued tensor of any dtype, device and layout, widened to double. */
  public static double[] toDoubles(Tensor t) {
    Tensor dense = t.detach().to(new Device("cpu"), ScalarType.Double).contiguous();
    double[] out = new double[(int) dense.numel()];
    MemorySegment.copy(data(dense), JAVA_DOUBLE, 0, out, 0, out.length);
    Reference.reachabilityFence(dense);
    return out;
  }

  /** Every element of a float32 tensor (any layout). */
  public static float[] toFloats(Tensor t) {
    Tensor dense = t.detach().contiguous();
    float[] out = new float[(int) dense.numel()];
    MemorySegment.copy(data(dense), JAVA_FLOAT, 0, out, 0, out.length);
    Reference.reachabilityFence(dense);
    return out;
  }

  /** An uninitialised contiguous CPU tensor. */
  public static Tensor empty(ScalarType type, long... shape) {
    return torch.empty(shape, new TensorOptions(type), new MemoryFormatOptional());
  }

  /**
   * The tensor's storage as a segment. The segment does not keep the tensor alive: the caller must hold it (e.g.
   * with {@link Reference#reachabilityFence}) until the last access.
   */
  public static MemorySegment data(Tensor t) {
    return MemorySegment.ofAddress(t.data_ptr().address()).reinterpret(t.nbytes());
  }
}
