package dev.grpo4j.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.text.TokenPair;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The host arrays the fused head takes are the batch the whole-logits route takes, pair for pair. */
class EncodedPairsTest {
  private static final List<TokenPair> PAIRS = List.of(
      new TokenPair(2, new int[] {5, 6}, new int[] {7}, new int[] {8, 9}),
      new TokenPair(0, new int[] {1}, new int[] {2, 3, 4}, new int[] {4}),
      new TokenPair(1, new int[] {3, 3, 3}, new int[] {1}, new int[] {2}));

  @Test
  void arraysMatchTheBatchTensors() {
    EncodedPairs data = EncodedPairs.encode(PAIRS).withReference(new float[] {-1.5f, -2.5f, -3.5f},
        new float[] {-4.5f, -5.5f, -6.5f});
    int[] pairs = {2, 0, 2};
    EncodedPairs.Batch batch = data.batch(pairs);
    assertArrayEquals(new float[] {-3.5f, -1.5f, -3.5f, -6.5f, -4.5f, -6.5f}, data.referenceLogps(pairs));
    assertArrayEquals(data.referenceLogps(pairs), HostTensors.toFloats(batch.refLogps()));
    assertArrayEquals(new int[] {1, 2, 1}, data.groups(pairs));
    assertArrayEquals(new double[] {1, 2, 1}, HostTensors.toDoubles(batch.groupIds()));
  }

  @Test
  void referenceLogpsNeedTheReferenceFirst() {
    EncodedPairs data = EncodedPairs.encode(PAIRS);
    assertThrows(IllegalStateException.class, () -> data.referenceLogps(new int[] {0}));
    assertArrayEquals(new int[] {2, 0}, data.groups(new int[] {0, 1}));
  }
}
