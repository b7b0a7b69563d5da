package dev.grpo4j.testing;

/**
 * The seed of a randomised test: fresh on every run (so the runs together cover many inputs), or the one given as
 * {@code -Dgrpo4j.test.seed=N}, so that a failure, whose message names its seed, replays exactly.
 */
public final class TestSeed {
  public static final String PROPERTY = "grpo4j.test.seed";

  private TestSeed() {}

  public static long get() {
    String given = System.getProperty(PROPERTY);
    return given == null || given.isBlank() ? System.nanoTime() : Long.parseLong(given.strip());
  }

  /** What a failure message says about {@code seed}: the seed and how to replay it. */
  public static String describe(long seed) {
    return "seed " + seed + " (replay: -D" + PROPERTY + "=" + seed + ")";
  }
}
