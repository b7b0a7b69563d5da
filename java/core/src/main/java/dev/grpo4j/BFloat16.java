package dev.grpo4j;

/**
 * bfloat16 bits (the top 16 bits of a float32) to and from float, for logits kept as {@code short[]}. Conversion to
 * bfloat16 rounds to nearest, ties to even, as PyTorch does; NaN stays NaN. For IEEE half precision (f16) use the
 * JDK's {@link Float#floatToFloat16} and {@link Float#float16ToFloat}.
 */
public final class BFloat16 {
  private BFloat16() {}

  /** The bfloat16 nearest to {@code value}, as its bits. */
  public static short fromFloat(float value) {
    int bits = Float.floatToRawIntBits(value);
    if (Float.isNaN(value)) {
      return (short) ((bits >>> 16) | 0x40);
    }
    bits += 0x7fff + ((bits >>> 16) & 1);
    return (short) (bits >>> 16);
  }

  /** The float a bfloat16 stands for (exact). */
  public static float toFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }

  /** Every value converted with {@link #fromFloat(float)}. */
  public static short[] fromFloats(float[] values) {
    short[] out = new short[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = fromFloat(values[i]);
    }
    return out;
  }

  /** Every value converted with {@link #toFloat(short)}. */
  public static float[] toFloats(short[] bits) {
    float[] out = new float[bits.length];
    for (int i = 0; i < bits.length; i++) {
      out[i] = toFloat(bits[i]);
    }
    return out;
  }
}
