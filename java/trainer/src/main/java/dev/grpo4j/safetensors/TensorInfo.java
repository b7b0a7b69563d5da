package dev.grpo4j.safetensors;

import java.util.Arrays;
import java.util.Objects;

/**
 * Where one tensor lies in a safetensors file, as its header describes it.
 *
 * @param name the tensor's name in the header
 * @param dtype its element type
 * @param shape its dimensions, outermost first ({@code []} for a scalar); the record returns copies
 * @param byteOffset where its data starts, counted from the first byte of the file (not of the data area)
 * @param byteLength its data's length in bytes: the product of {@code shape} times {@code dtype.byteSize()}
 */
public record TensorInfo(String name, DType dtype, long[] shape, long byteOffset, long byteLength) {
  /** Copies {@code shape}, so the record stays immutable. */
  public TensorInfo {
    shape = shape.clone();
  }

  /** A copy of the tensor's dimensions. */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** The number of elements: the product of the shape (1 for a scalar). */
  public long elementCount() {
    return byteLength / dtype.byteSize();
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof TensorInfo that
        && name.equals(that.name)
        && dtype == that.dtype
        && Arrays.equals(shape, that.shape)
        && byteOffset == that.byteOffset
        && byteLength == that.byteLength;
  }

  @Override
  public int hashCode() {
    return 31 * Objects.hash(name, dtype, byteOffset, byteLength) + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return name + " " + dtype.code() + Arrays.toString(shape) + " at " + byteOffset + " (" + byteLength + " bytes)";
  }
}
