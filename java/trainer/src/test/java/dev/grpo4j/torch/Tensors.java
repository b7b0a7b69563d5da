package dev.grpo4j.torch;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** CPU tensors from Java arrays and back, through the same data-pointer route the adapter uses. */
final class Tensors {
  private Tensors() {}

  static Tensor empty(ScalarType type, long... shape) {
    return torch.empty(shape, new TensorOptions(type), new MemoryFormatOptional());
  }

  static Tensor floats(float[] values, long... shape) {
    Tensor t = empty(ScalarType.Float, shape);
    MemorySegment.copy(values, 0, data(t), JAVA_FLOAT, 0, values.length);
    return t;
  }

  static Tensor ints(int[] values, long... shape) {
    Tensor t = empty(ScalarType.Int, shape);
    MemorySegment.copy(values, 0, data(t), JAVA_INT, 0, values.length);
    return t;
  }

  static Tensor longs(long[] values, long... shape) {
    Tensor t = empty(ScalarType.Long, shape);
    MemorySegment.copy(values, 0, data(t), JAVA_LONG, 0, values.length);
    return t;
  }

  static Tensor doubles(double[] values, long... shape) {
    Tensor t = empty(ScalarType.Double, shape);
    MemorySegment.copy(values, 0, data(t), JAVA_DOUBLE, 0, values.length);
    return t;
  }

  /** Every element of {@code t}, widened to double (any real dtype, any layout). */
  static double[] toDoubles(Tensor t) {
    Tensor d = t.detach().to(ScalarType.Double).contiguous();
    double[] out = new double[(int) d.numel()];
    MemorySegment.copy(data(d), JAVA_DOUBLE, 0, out, 0, out.length);
    return out;
  }

  static double scalar(Tensor t) {
    return toDoubles(t)[0];
  }

  private static MemorySegment data(Tensor t) {
    return MemorySegment.ofAddress(t.data_ptr().address()).reinterpret(t.nbytes());
  }
}
