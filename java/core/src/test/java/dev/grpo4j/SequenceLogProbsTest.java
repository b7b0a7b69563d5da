package dev.grpo4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.grpo4j.testing.Close;
import dev.grpo4j.testing.TestSeed;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Masked sequence log-probs of the CPU backend against the double-precision REFERENCE backend. */
class SequenceLogProbsTest {
  @ParameterizedTest
  @EnumSource(LogitsType.class)
  void cpuMatchesTheReference(LogitsType type) {
    long seed = TestSeed.get();
    int seqLen = 17;
    // Row 2 is fully masked: its log-prob is 0 over 0 tokens.
    try (HostBatch batch = HostBatch.random(new Random(seed), 3, seqLen, 501, 1, type, LabelType.I32, 3, 0.3, 2, -1)) {
      SequenceLogProbs want = SequenceLogProbs.compute(batch.tokens(batch.logits), Backend.REFERENCE);
      SequenceLogProbs got = SequenceLogProbs.compute(batch.tokens(batch.logits), Backend.CPU);
      Close.assertClose(type + " " + TestSeed.describe(seed), got.logProbs(),
          GroupRobustLossTest.wide(want.logProbs()), 1e-5 * seqLen * 10, 1e-5);
      assertArrayEquals(want.tokenCounts(), got.tokenCounts());
      assertEquals(0, got.tokenCounts()[2]);
      assertEquals(0f, got.logProbs()[2]);
    }
  }
}
