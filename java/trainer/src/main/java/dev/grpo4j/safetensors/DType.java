package dev.grpo4j.safetensors;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The safetensors element types grpo4j reads and writes, with their size in bytes and their libtorch counterpart.
 *
 * <p>The unsigned 16/32/64-bit and 8-bit float types of the format are left out: libtorch's support for them is
 * partial, and no model grpo4j trains stores them.
 */
public enum DType {
  /** IEEE 754 binary32. */
  F32("F32", 4, ScalarType.Float, true),
  /** bfloat16: the top 16 bits of a binary32. */
  BF16("BF16", 2, ScalarType.BFloat16, true),
  /** IEEE 754 binary16. */
  F16("F16", 2, ScalarType.Half, true),
  /** IEEE 754 binary64. */
  F64("F64", 8, ScalarType.Double, true),
  /** Signed 64-bit integer. */
  I64("I64", 8, ScalarType.Long, false),
  /** Signed 32-bit integer. */
  I32("I32", 4, ScalarType.Int, false),
  /** Signed 16-bit integer. */
  I16("I16", 2, ScalarType.Short, false),
  /** Signed 8-bit integer. */
  I8("I8", 1, ScalarType.Char, false),
  /** Unsigned 8-bit integer. */
  U8("U8", 1, ScalarType.Byte, false),
  /** One byte per element, 0 or 1. */
  BOOL("BOOL", 1, ScalarType.Bool, false);

  private final String code;
  private final int byteSize;
  private final ScalarType scalarType;
  private final boolean floatingPoint;

  DType(String code, int byteSize, ScalarType scalarType, boolean floatingPoint) {
    this.code = code;
    this.byteSize = byteSize;
    this.scalarType = scalarType;
    this.floatingPoint = floatingPoint;
  }

  /** The string that names this type in a safetensors header, e.g. {@code "BF16"}. */
  public String code() {
    return code;
  }

  /** Bytes per element. */
  public int byteSize() {
    return byteSize;
  }

  /** The libtorch element type with the same bit layout. */
  public ScalarType scalarType() {
    return scalarType;
  }

  /** Whether this is a floating-point type (libtorch converts among these when copying). */
  public boolean isFloatingPoint() {
    return floatingPoint;
  }

  /** The type a safetensors header names {@code code}, or empty if grpo4j does not support it. */
  public static Optional<DType> fromCode(String code) {
    for (DType type : values()) {
      if (type.code.equals(code)) {
        return Optional.of(type);
      }
    }
    return Optional.empty();
  }

  /**
   * The safetensors type of libtorch's {@code type}, or empty if safetensors (as supported here) has none.
   *
   * @param type a libtorch element type; one returned by a native call is interned here, so it need not be
   */
  public static Optional<DType> fromScalarType(ScalarType type) {
    ScalarType interned = type.intern();
    for (DType candidate : values()) {
      if (candidate.scalarType == interned) {
        return Optional.of(candidate);
      }
    }
    return Optional.empty();
  }

  /** The codes of every supported type, for error messages. */
  static String supportedCodes() {
    return Arrays.stream(values()).map(DType::code).collect(Collectors.joining(", "));
  }
}
