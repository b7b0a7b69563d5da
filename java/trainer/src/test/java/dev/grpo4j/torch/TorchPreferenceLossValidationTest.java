package dev.grpo4j.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupNormalization;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LossResult;
import dev.grpo4j.LossType;
import dev.grpo4j.Weighting;
import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.testing.LossConfig;
import dev.grpo4j.testing.RandomPreferences;
import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRef;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Bad tensors are rejected before the kernel runs, with a message that names the argument and the fix. */
class TorchPreferenceLossValidationTest {
  private static final int PAIRS = 3;
  private static final int SEQ_LEN = 4;
  private static final int VOCAB = 9;

  private PointerScope scope;
  private GroupRobustLoss loss;
  private TorchPreferenceLoss adapter;
  private Tensor logits;
  private Tensor labels;
  private Tensor ref;
  private Tensor groupIds;

  @BeforeEach
  void setUp() {
    scope = new PointerScope();
    loss = new LossConfig("GR-DPO", LossType.DPO, Weighting.ROBUST, GroupNormalization.BATCH_MEAN, 0.1, 0, false, 0.5,
        1, 0).build(new long[] {10, 20});
    adapter = new TorchPreferenceLoss(loss);
    RandomPreferences batch = RandomPreferences.generate(new Random(1), new RandomPreferences.Shape("valid", PAIRS,
        SEQ_LEN, VOCAB, 2,
        0.2, -1, -1), 1.0);
    logits = PreferenceTensors.logitsLeaf(batch, ScalarType.Float);
    labels = PreferenceTensors.labels(batch, false);
    ref = PreferenceTensors.ref(batch);
    groupIds = PreferenceTensors.groupIds(batch);
  }

  @AfterEach
  void tearDown() {
    loss.close();
    scope.close();
  }

  @Test
  void validInputsGiveTheBatchsPairOutputsAFiniteGradientAndOneUpdate() {
    LossResult before = adapter.evaluate(logits, labels, ref, groupIds);
    assertEquals(0, loss.state().steps(), "evaluation does not move the weights");
    TorchPreferenceLoss.Result trained = adapter.forwardBackward(logits, labels, ref, groupIds);
    assertEquals(1, loss.state().steps());
    assertArrayEquals(before.pairLosses(), trained.lossResult().pairLosses(), 0f, "pair losses do not depend on the "
        + "group weights");
    assertArrayEquals(before.margins(), trained.lossResult().margins(), 0f);
    assertTrue(Double.isFinite(trained.lossResult().loss()));
    float[] grad = HostTensors.toFloats(trained.grad());
    assertEquals(logits.numel(), grad.length, "a gradient for every logit");
    double norm = 0;
    for (float g : grad) {
      assertTrue(Float.isFinite(g));
      norm += g * g;
    }
    assertTrue(norm > 0, "a gradient");
  }

  @Test
  void logitsOfUnsupportedDtype() {
    assertRejected("logits", "torch.ScalarType.Float", () -> train(logits.to(ScalarType.Double), labels, ref,
        groupIds));
  }

  @Test
  void labelsOfUnsupportedDtype() {
    assertRejected("labels", "torch.ScalarType.Long", () -> train(logits, labels.to(ScalarType.Float), ref,
        groupIds));
  }

  @Test
  void referenceLogProbsNotFloat32() {
    assertRejected("refLogps", "torch.ScalarType.Float", () -> train(logits, labels, ref.to(ScalarType.Double),
        groupIds));
  }

  @Test
  void groupIdsNotInt32() {
    assertRejected("groupIds", "torch.ScalarType.Int", () -> train(logits, labels, ref,
        groupIds.to(ScalarType.Long)));
  }

  @Test
  void transposedLogits() {
    Tensor transposed = logits.detach().transpose(0, 1).contiguous().transpose(0, 1);
    assertRejected("logits", ".contiguous()", () -> train(transposed, labels, ref, groupIds));
  }

  @Test
  void transposedLabels() {
    Tensor transposed = labels.transpose(0, 1).contiguous().transpose(0, 1);
    assertRejected("labels", ".contiguous()", () -> train(logits, transposed, ref, groupIds));
  }

  @Test
  void stridedReferenceLogProbs() {
    Tensor everyOther = torch.cat(new TensorArrayRef(new TensorVector(ref, ref))).slice(0, new LongOptional(0),
        new LongOptional(4L * PAIRS), 2);
    assertRejected("refLogps", ".contiguous()", () -> train(logits, labels, everyOther, groupIds));
  }

  @Test
  void logitsNotThreeDimensional() {
    assertRejected("logits", "[2B, T, V]", () -> train(logits.view(2L * PAIRS * SEQ_LEN, VOCAB), labels, ref,
        groupIds));
  }

  @Test
  void oddRowCount() {
    Tensor odd = logits.detach().narrow(0, 0, 2L * PAIRS - 1);
    assertRejected("logits", "odd", () -> train(odd, labels.narrow(0, 0, 2L * PAIRS - 1), ref, groupIds));
  }

  @Test
  void labelsOfOtherSequenceLength() {
    Tensor shorter = labels.narrow(1, 0, SEQ_LEN - 1).contiguous();
    assertRejected("labels", "[" + 2 * PAIRS + ", " + SEQ_LEN + "]", () -> train(logits, shorter, ref, groupIds));
  }

  @Test
  void referenceLogProbsPerPairInsteadOfPerRow() {
    Tensor perPair = ref.narrow(0, 0, PAIRS);
    assertRejected("refLogps", "[" + 2 * PAIRS + "]", () -> train(logits, labels, perPair, groupIds));
  }

  @Test
  void groupIdsForAnotherBatchSize() {
    Tensor more = torch.cat(new TensorArrayRef(new TensorVector(groupIds, groupIds)));
    assertRejected("groupIds", "B = " + PAIRS, () -> train(logits, labels, ref, more));
  }

  @Test
  void gradientBufferChecked() {
    assertRejected("grad", "torch.empty_like(logits)", () -> adapter.forwardBackward(logits, labels, ref, groupIds,
        torch.empty_like(logits.detach()).to(ScalarType.BFloat16)));
    assertRejected("grad", "torch.empty_like(logits)", () -> adapter.forwardBackward(logits, labels, ref, groupIds,
        logits.detach().narrow(0, 0, 2)));
    assertRejected("grad", ".contiguous()", () -> adapter.forwardBackward(logits, labels, ref, groupIds,
        logits.detach().transpose(1, 2).contiguous().transpose(1, 2)));
    assertRejected("grad", "logits.detach()", () -> adapter.forwardBackward(logits, labels, ref, groupIds, logits));
  }

  @Test
  void tensorOnAnotherDevice() {
    Tensor meta = torch.empty(new long[] {2L * PAIRS, SEQ_LEN, VOCAB}, new TensorOptions(new Device("meta")),
        new MemoryFormatOptional());
    assertRejected("logits", "Backend.CPU", () -> train(meta, labels, ref, groupIds));
    Tensor metaIds = torch.empty(new long[] {PAIRS}, new TensorOptions(new Device("meta")).dtype(
        new ScalarTypeOptional(ScalarType.Int)), new MemoryFormatOptional());
    assertRejected("groupIds", "groupIds.to(logits.device())", () -> train(logits, labels, ref, metaIds));
  }

  @Test
  void cudaTensorOnCpuBackend() {
    assumeTrue(torch.cuda_is_available(), "this bytedeco pytorch build has no CUDA device");
    Tensor cuda = logits.detach().to(new Device("cuda:0"), ScalarType.Float);
    assertRejected("logits", "Backend.CPU", () -> train(cuda, labels, ref, groupIds));
  }

  @Test
  void cpuTensorsOnCudaBackend() {
    assumeTrue(GroupRobustLoss.cudaAvailable(), "grpo4j has no usable CUDA backend here");
    try (GroupRobustLoss cudaLoss = GroupRobustLoss.builder().groups(2).backend(Backend.CUDA).build()) {
      assertRejected("logits", "Backend.CUDA", () -> new TorchPreferenceLoss(cudaLoss).forwardBackward(logits, labels,
          ref, groupIds));
    }
  }

  @Test
  void labelOutsideVocabularyIsRejectedByTheKernel() {
    Tensor bad = labels.clone();
    bad.select(0, 1).select(0, 2).fill_(new Scalar(VOCAB));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> train(logits, bad, ref,
        groupIds));
    assertTrue(e.getMessage().contains("labels[1][2] = " + VOCAB), e.getMessage());
    assertEquals(0, loss.state().steps(), "a rejected call must not update the group weights");
  }

  @Test
  void nullTensor() {
    assertRejected("refLogps", "null", () -> train(logits, labels, null, groupIds));
  }

  @Test
  void sequenceLogProbsChecksToo() {
    assertRejected("labels", "[" + 2 * PAIRS + ", " + SEQ_LEN + "]",
        () -> adapter.sequenceLogProbs(logits, labels.narrow(0, 0, 2)));
  }

  private void train(Tensor l, Tensor y, Tensor r, Tensor g) {
    adapter.forwardBackward(l, y, r, g);
  }

  /** The call throws IllegalArgumentException naming {@code argument} and hinting {@code fix}, and changes nothing. */
  private void assertRejected(String argument, String fix, Executable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    String message = e.getMessage();
    assertTrue(message.startsWith(argument + " "), "message should start with '" + argument + "': " + message);
    assertTrue(message.contains(fix), "message should say '" + fix + "': " + message);
    assertEquals(0, loss.state().steps(), "a rejected call must not update the group weights");
  }
}
