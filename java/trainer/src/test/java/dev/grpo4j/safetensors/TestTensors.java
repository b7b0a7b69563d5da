package dev.grpo4j.safetensors;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.bytedeco.pytorch.Tensor;

/** Tensors with known bytes, and raw safetensors files, for the tests. */
final class TestTensors {
  private TestTensors() {}

  /** A CPU tensor whose bytes are random, except that booleans are 0 or 1 as libtorch requires. */
  static Tensor random(DType dtype, long[] shape, Random random) {
    Tensor tensor = TensorMemory.emptyCpu(dtype, shape);
    byte[] bytes = new byte[Math.toIntExact(tensor.nbytes())];
    random.nextBytes(bytes);
    if (dtype == DType.BOOL) {
      for (int i = 0; i < bytes.length; i++) {
        bytes[i] &= 1;
      }
    }
    MemorySegment.copy(bytes, 0, TensorMemory.bytes(tensor), JAVA_BYTE, 0, bytes.length);
    Reference.reachabilityFence(tensor);
    return tensor;
  }

  static Tensor floats(float[] values, long... shape) {
    Tensor tensor = TensorMemory.emptyCpu(DType.F32, shape);
    MemorySegment.copy(values, 0, TensorMemory.bytes(tensor), JAVA_FLOAT, 0, values.length);
    Reference.reachabilityFence(tensor);
    return tensor;
  }

  /** Gaussian floats, so conversions to narrower types round most of them. */
  static Tensor randomFloats(Random random, long... shape) {
    long count = 1;
    for (long dim : shape) {
      count *= dim;
    }
    float[] values = new float[Math.toIntExact(count)];
    for (int i = 0; i < values.length; i++) {
      values[i] = (float) (random.nextGaussian() * 100);
    }
    return floats(values, shape);
  }

  /** The raw bytes of {@code tensor}'s values, in row-major order. */
  static byte[] bytes(Tensor tensor) {
    Tensor dense = tensor.detach().cpu().contiguous();
    byte[] out = TensorMemory.bytes(dense).toArray(JAVA_BYTE);
    Reference.reachabilityFence(dense);
    return out;
  }

  /** A safetensors file built by hand: {@code header} verbatim (no padding added), then {@code data}. */
  static Path rawFile(Path file, String header, byte[] data) {
    byte[] json = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer buffer = ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    buffer.putLong(json.length).put(json).put(data);
    try {
      return Files.write(file, buffer.array());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
