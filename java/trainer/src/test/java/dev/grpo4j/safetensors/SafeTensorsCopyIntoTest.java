package dev.grpo4j.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Node;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsCopyIntoTest {
  @TempDir Path dir;

  private Path fileWith(String name, Tensor tensor) {
    Path file = dir.resolve(name + ".safetensors");
    SafeTensorsWriter.write(file, Map.of(name, tensor), null);
    return file;
  }

  @Test
  void bf16IntoF32WidensExactlyAsLibtorch() {
    Tensor stored = TestTensors.randomFloats(new Random(1), 6, 7).to(ScalarType.BFloat16);
    Tensor target = TensorMemory.emptyCpu(DType.F32, new long[] {6, 7});
    try (SafeTensorsFile file = SafeTensorsFile.open(fileWith("w", stored))) {
      file.copyInto("w", target);
    }
    assertEquals(ScalarType.Float, target.scalar_type().intern(), "the target keeps its dtype");
    assertArrayEquals(TestTensors.bytes(stored.to(ScalarType.Float)), TestTensors.bytes(target));
  }

  @Test
  void f32IntoBf16RoundsExactlyAsLibtorch() {
    Tensor stored = TestTensors.randomFloats(new Random(2), 9, 4);
    Tensor target = TensorMemory.emptyCpu(DType.BF16, new long[] {9, 4});
    try (SafeTensorsFile file = SafeTensorsFile.open(fileWith("w", stored))) {
      file.copyInto("w", target);
    }
    assertEquals(ScalarType.BFloat16, target.scalar_type().intern());
    byte[] expected = TestTensors.bytes(stored.to(ScalarType.BFloat16));
    assertArrayEquals(expected, TestTensors.bytes(target));
    assertFalse(Arrays.equals(TestTensors.bytes(stored), TestTensors.bytes(target.to(ScalarType.Float))),
        "the test data does lose precision in bf16, so the rounding mode is exercised");
  }

  @Test
  void shapeMismatchNamesTheTensorAndBothShapes() {
    Tensor target = TensorMemory.emptyCpu(DType.F32, new long[] {3, 2});
    try (SafeTensorsFile file = SafeTensorsFile.open(fileWith("layer.weight", TestTensors.randomFloats(
        new Random(3), 2, 3)))) {
      SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> file.copyInto("layer.weight", target));
      assertTrue(e.getMessage().contains("'layer.weight'"), e.getMessage());
      assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("[3, 2]"), e.getMessage());
    }
  }

  @Test
  void integerDataIsNotSilentlyConvertedToFloat() {
    Tensor stored = TestTensors.random(DType.I64, new long[] {4}, new Random(4));
    Tensor target = TensorMemory.emptyCpu(DType.F32, new long[] {4});
    try (SafeTensorsFile file = SafeTensorsFile.open(fileWith("ids", stored))) {
      SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> file.copyInto("ids", target));
      assertTrue(e.getMessage().contains("'ids'") && e.getMessage().contains("I64"), e.getMessage());
    }
  }

  @Test
  void parameterKeepsGradTrackingAndGainsNoHistory() {
    Tensor stored = TestTensors.randomFloats(new Random(5), 5);
    Tensor parameter = TensorMemory.emptyCpu(DType.F32, new long[] {5}).requires_grad_(true);
    long versionBefore = parameter._version();
    try (SafeTensorsFile file = SafeTensorsFile.open(fileWith("p", stored))) {
      // Without the guard inside copyInto libtorch refuses an in-place write to a leaf that requires grad.
      file.copyInto("p", parameter);
    }
    assertTrue(parameter.requires_grad(), "still a trainable parameter");
    assertTrue(parameter.is_leaf(), "still a leaf");
    Node gradFn = parameter.grad_fn();
    assertTrue(gradFn == null || gradFn.isNull(), "no autograd history");
    assertTrue(GradMode.is_enabled(), "gradient recording is back on after copyInto");
    assertTrue(parameter._version() > versionBefore, "the write is visible to autograd's version check");
    assertArrayEquals(TestTensors.bytes(stored), TestTensors.bytes(parameter));

    Tensor loss = parameter.mul(parameter).sum();
    loss.backward();
    assertArrayEquals(TestTensors.bytes(stored.add(stored)), TestTensors.bytes(parameter.grad()),
        "d(sum p^2)/dp = 2p: gradients still flow to the parameter");
  }
}
