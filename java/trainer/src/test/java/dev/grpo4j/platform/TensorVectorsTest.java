package dev.grpo4j.platform;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.junit.jupiter.api.Test;

class TensorVectorsTest {
  @Test
  void ownedTensorsOutliveTheVector() {
    Tensor first = HostTensors.floats(new float[] {1, 2, 3}, 3);
    Tensor second = HostTensors.floats(new float[] {4, 5}, 2);
    TensorVector vector = new TensorVector(first, second);
    Tensor[] owned = TensorVectors.owned(vector);
    // first, the vector's slot and the owned copy each hold one reference to the same tensor.
    assertEquals(3, owned[0].use_count());
    vector.close();
    assertEquals(2, owned[0].use_count(), "closing the vector drops only its own reference");
    assertArrayEquals(new float[] {1, 2, 3}, HostTensors.toFloats(owned[0]));
    assertArrayEquals(new float[] {4, 5}, HostTensors.toFloats(owned[1]));
  }
}
