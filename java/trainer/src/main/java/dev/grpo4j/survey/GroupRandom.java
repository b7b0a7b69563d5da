package dev.grpo4j.survey;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * The seeded generators of a conversion: one per group and purpose, so that a group's rejected letters and split do
 * not change when other groups are added or filtered out, nor when the input lists groups in another order.
 *
 * <p>The generator for {@code purpose} ({@code "rejected"} or {@code "split"}) and {@code group} is
 * {@code new java.util.SplittableRandom(seed ^ h)}, where {@code h} is the 64-bit FNV-1a hash of the UTF-8 bytes of
 * {@code purpose + "\0" + group}.
 */
final class GroupRandom {
  private static final long FNV_OFFSET = 0xcbf29ce484222325L;
  private static final long FNV_PRIME = 0x100000001b3L;

  private GroupRandom() {}

  static SplittableRandom of(long seed, String purpose, String group) {
    long h = FNV_OFFSET;
    for (byte b : (purpose + "\0" + group).getBytes(StandardCharsets.UTF_8)) {
      h = (h ^ (b & 0xff)) * FNV_PRIME;
    }
    return new SplittableRandom(seed ^ h);
  }
}
