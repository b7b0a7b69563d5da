package dev.grpo4j.torch;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;

import dev.grpo4j.platform.HostTensors;
import java.lang.foreign.MemorySegment;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Double-precision helpers for the tests; float, int and long tensors come from {@link HostTensors}. */
final class Tensors {
  private Tensors() {}

  static Tensor doubles(double[] values, long... shape) {
    Tensor t = HostTensors.empty(ScalarType.Double, shape);
    MemorySegment.copy(values, 0, HostTensors.data(t), JAVA_DOUBLE, 0, values.length);
    return t;
  }

  /** Every element of {@code t}, widened to double (any real dtype, any layout). */
  static double[] toDoubles(Tensor t) {
    return HostTensors.toDoubles(t);
  }

  static double scalar(Tensor t) {
    return toDoubles(t)[0];
  }
}
