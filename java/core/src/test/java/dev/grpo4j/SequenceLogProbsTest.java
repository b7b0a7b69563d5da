package dev.grpo4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SequenceLogProbsTest {
  @ParameterizedTest
  @EnumSource(LogitsType.class)
  void matchesReference(LogitsType type) {
    long seed = System.nanoTime();
    try (HostBatch batch = HostBatch.random(new Random(seed), 3, 17, 501, 1, type, LabelType.I32, 3, 0.3, 2, -1)) {
      ReferenceLoss.Input in = batch.input;
      double[] lse = ReferenceLoss.logSumExp(in);
      int rows = 2 * in.pairs();
      double[] want = new double[rows];
      int[] counts = new int[rows];
      for (int r = 0; r < rows; r++) {
        for (int t = 0; t < in.seqLen(); t++) {
          int p = r * in.seqLen() + t;
          if (in.labels()[p] != TokenLogits.IGNORE_INDEX) {
            want[r] += in.logits()[p * in.vocab() + (int) in.labels()[p]] - lse[p];
            counts[r]++;
          }
        }
      }
      for (Backend backend : new Backend[] {Backend.CPU, Backend.REFERENCE}) {
        SequenceLogProbs got = SequenceLogProbs.compute(batch.tokens(batch.logits), backend);
        Close.assertClose(backend + " " + type + " seed " + seed, got.logProbs(), want, 1e-5 * in.seqLen() * 10, 1e-5);
        assertArrayEquals(counts, got.tokenCounts());
      }
    }
  }
}
