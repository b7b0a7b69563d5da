package dev.grpo4j.testing;

import static org.junit.jupiter.api.Assertions.fail;

/** Elementwise {@code |a - r| <= atol + rtol |r|} that reports the first mismatches; NaN never passes. */
public final class Close {
  private Close() {}

  public static void assertClose(String name, double[] actual, double[] expected, double atol, double rtol) {
    if (actual.length != expected.length) {
      fail(name + ": length " + actual.length + ", expected " + expected.length);
    }
    StringBuilder report = new StringBuilder();
    int bad = 0;
    for (int i = 0; i < expected.length; i++) {
      double diff = Math.abs(actual[i] - expected[i]);
      if (!(diff <= atol + rtol * Math.abs(expected[i]))) {
        if (bad < 5) {
          report.append(String.format("%n  %s[%d]: got %.9g, want %.9g (|diff| %.3g)", name, i, actual[i], expected[i],
              diff));
        }
        bad++;
      }
    }
    if (bad > 0) {
      fail(String.format("%s: %d of %d elements outside atol %.3g rtol %.3g; first mismatches:%s", name, bad,
          expected.length, atol, rtol, report));
    }
  }

  public static void assertClose(String name, float[] actual, double[] expected, double atol, double rtol) {
    assertClose(name, widen(actual), expected, atol, rtol);
  }

  public static double[] widen(float[] values) {
    double[] out = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = values[i];
    }
    return out;
  }

  public static double maxAbs(double[] values) {
    double max = 0;
    for (double v : values) {
      max = Math.max(max, Math.abs(v));
    }
    return max;
  }
}
