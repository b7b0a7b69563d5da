package dev.grpo4j.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LossResult;
import dev.grpo4j.SequenceLogProbs;
import dev.grpo4j.cli.ChildJvm;
import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.testing.Close;
import dev.grpo4j.testing.LossConfig;
import dev.grpo4j.testing.RandomPreferences;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fused LM head against the unfused path on the same head and data: the logits {@code X W^T (+ b, + LoRA)}
 * formed whole, the fused logits loss, and libtorch's autograd back to X and the head's parameters. Loss, group
 * losses, weights, log alpha, dJ/dX and the parameters' gradients must agree within float32 rounding, for every
 * chunk size, masked rows and T = 1, tied and untied heads, with and without bias and LoRA, over two steps (the group
 * weights move in between).
 */
@SuppressWarnings("try") // PointerScope and NoGradGuard act by existing; the bodies never name them
class FusedLmHeadTest {
  /** One head-level case; {@code tied}: W is also the embedding that builds the hidden states. */
  record HeadCase(String name, RandomPreferences.Shape shape, int hidden, boolean bias, boolean lora, boolean tied,
                  long chunk) {
    @Override
    public String toString() {
      return name;
    }
  }

  static List<HeadCase> heads() {
    return List.of(
        new HeadCase("chunk 1, masked row", new RandomPreferences.Shape("", 3, 5, 37, 2, 0.3, 4, -1), 8, false, false,
            false, 1),
        new HeadCase("odd chunk 7, bias, group absent", new RandomPreferences.Shape("", 4, 6, 41, 3, 0.25, -1, 1), 12,
            true,
            false, false, 7),
        new HeadCase("T = 1, chunk larger than the batch", new RandomPreferences.Shape("", 3, 1, 29, 2, 0, -1, -1), 8,
            false, false, false, 1_000_000),
        new HeadCase("LoRA head with bias, chunk 4", new RandomPreferences.Shape("", 3, 4, 31, 2, 0.2, -1, -1), 10,
            true,
            true, false, 4),
        new HeadCase("tied embedding, chunk 5", new RandomPreferences.Shape("", 3, 5, 23, 2, 0.2, 1, -1), 6, false,
            false,
            true, 5),
        new HeadCase("chunks of whole pairs, 3 groups, bias, LoRA, chunk 17",
            new RandomPreferences.Shape("", 7, 4, 19, 3, 0.1, -1, -1), 6, true, true, false, 17),
        new HeadCase("V = 1031, chunk 9", new RandomPreferences.Shape("", 3, 5, 1031, 2, 0.2, -1, -1), 8,
            true, false, false, 9));
  }

  /** Every loss and head case, worked through as the head chooses and with every chunk recomputed. */
  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (LossConfig c : TorchAutogradTest.configs()) {
      for (HeadCase h : heads()) {
        for (boolean recompute : new boolean[] {false, true}) {
          out.add(Arguments.of(c, h, recompute ? "every chunk recomputed" : "chosen route"));
        }
      }
    }
    return out.stream();
  }

  /** The head's parameters and the hidden leaf, built twice from one seed for the two paths. */
  record Parameters(Tensor hiddenLeaf, Tensor weight, Tensor bias, Tensor loraA, Tensor loraB) {
    static Parameters make(long seed, HeadCase h) {
      torch.manual_seed(seed);
      int rows = 2 * h.shape().pairs();
      Tensor hidden = torch.randn(rows, h.shape().seqLen(), h.hidden()).requires_grad_(true);
      Tensor weight = torch.randn(h.shape().vocab(), h.hidden()).mul(new Scalar(0.4)).requires_grad_(true);
      Tensor bias = h.bias() ? torch.randn(h.shape().vocab()).mul(new Scalar(0.1)).requires_grad_(true) : null;
      Tensor a = h.lora() ? torch.randn(2, h.hidden()).mul(new Scalar(0.3)).requires_grad_(true) : null;
      Tensor b = h.lora() ? torch.randn(h.shape().vocab(), 2).mul(new Scalar(0.3)).requires_grad_(true) : null;
      return new Parameters(hidden, weight, bias, a, b);
    }

    /** The hidden states the head sees: through an op, and for a tied head through the embedding of W too. */
    Tensor hidden(HeadCase h, Tensor tokenIds) {
      Tensor x = hiddenLeaf.mul(new Scalar(1.5));
      return h.tied() ? x.add(torch.embedding(weight, tokenIds)) : x;
    }

    LmHead head() {
      return new LmHead(weight, bias, loraA, loraB, 0.5, 0, true);
    }

    Tensor logits(Tensor hidden) {
      Tensor z = bias == null ? torch.linear(hidden, weight) : torch.linear(hidden, weight, new TensorOptional(bias));
      if (loraA != null) {
        z = z.add(torch.linear(torch.linear(hidden, loraA), loraB), new Scalar(0.5));
      }
      return z.contiguous();
    }

    List<Tensor> gradients() {
      List<Tensor> out = new ArrayList<>(List.of(hiddenLeaf.grad(), weight.grad()));
      for (Tensor t : new Tensor[] {bias, loraA, loraB}) {
        if (t != null) {
          out.add(t.grad());
        }
      }
      return out;
    }
  }

  @ParameterizedTest(name = "{0} | {1} | {2}")
  @MethodSource("cases")
  void matchesTheUnfusedPath(LossConfig c, HeadCase h, String route) {
    long seed = 31L * c.name().hashCode() + h.name().hashCode();
    RandomPreferences batch = RandomPreferences.generate(new Random(seed), h.shape(), 1.0);
    int rows = 2 * h.shape().pairs();
    try (PointerScope scope = new PointerScope();
         GroupRobustLoss unfusedLoss = c.build(batch.groupSizes());
         GroupRobustLoss fusedLoss = c.build(batch.groupSizes())) {
      Parameters unfused = Parameters.make(seed, h);
      Parameters fused = Parameters.make(seed, h);
      Tensor tokenIds = torch.randint(h.shape().vocab(), new long[] {rows, h.shape().seqLen()});
      Tensor labels = PreferenceTensors.labels(batch, false);
      FusedLmHead chosen = FusedLmHead.withChunkTokens(dev.grpo4j.Backend.CPU, 2, 0, h.chunk());
      FusedLmHead head = route.equals("chosen route") ? chosen : chosen.recomputingEveryChunk();
      for (int step = 0; step < 2; step++) {
        String name = c + " | " + h + " | " + route + " | step " + step;
        Tensor logits = unfused.logits(unfused.hidden(h, tokenIds));
        TorchPreferenceLoss.Result want = new TorchPreferenceLoss(unfusedLoss).forwardBackward(logits, labels,
            PreferenceTensors.ref(batch), PreferenceTensors.groupIds(batch));
        logits.backward(want.grad(), new BoolOptional(), false, new TensorArrayRefOptional());
        LossResult got = head.forwardBackward(fusedLoss, fused.hidden(h, tokenIds), fused.head(), labels, batch.ref(),
            batch.groupIds(), 1.0, s -> fusedLoss.groupStep(s.groupStatistics(), true));
        LossResult expected = want.lossResult();
        Close.assertClose(name + " J", new double[] {got.loss()}, new double[] {expected.loss()},
            1e-6 * (1 + Math.abs(expected.loss())), 1e-5);
        Close.assertClose(name + " pair losses", got.pairLosses(), Close.widen(expected.pairLosses()), 1e-6, 1e-5);
        Close.assertClose(name + " chosen log-probs", got.chosenLogps(), Close.widen(expected.chosenLogps()), 1e-5,
            1e-5);
        Close.assertClose(name + " group losses", got.groupLosses(), Close.widen(expected.groupLosses()), 1e-6, 1e-5);
        Close.assertClose(name + " weights", got.objectiveWeights(), Close.widen(expected.objectiveWeights()), 1e-7,
            1e-5);
        Close.assertClose(name + " log alpha", fusedLoss.state().logAlpha(), unfusedLoss.state().logAlpha(), 1e-7,
            1e-5);
        List<Tensor> wantGrads = unfused.gradients();
        List<Tensor> gotGrads = fused.gradients();
        String[] names = {"dJ/dX", "dJ/dW", "dJ/db or dA", "dJ/dA or dB", "dJ/dB"};
        for (int i = 0; i < wantGrads.size(); i++) {
          double[] w = Tensors.toDoubles(wantGrads.get(i));
          Close.assertClose(name + " " + names[i], Tensors.toDoubles(gotGrads.get(i)), w,
              1e-6 * (1e-3 + Close.maxAbs(w)), 1e-4);
        }
      }
    }
  }

  /**
   * Pairs that fit a chunk are packed into chunks of whole pairs, the others split and worked through first, pairs by
   * group, one accumulator slot per group present (one for average weighting); every pair is split when the extra
   * slots would pass the memory budget, for float16 logits, and when asked to recompute every chunk.
   */
  @Test
  void chunksHoldWholePairsWhereTheyFit() {
    int[] chosen = {2, 6, 1, 0};
    int[] rejected = {3, 6, 2, 0};
    int pairs = chosen.length;
    int seqLen = 6;
    long[] labels = new long[2 * pairs * seqLen];
    java.util.Arrays.fill(labels, dev.grpo4j.TokenLogits.IGNORE_INDEX);
    for (int i = 0; i < pairs; i++) {
      for (int t = 0; t < chosen[i]; t++) {
        labels[i * seqLen + seqLen - 1 - t] = 1;
      }
      for (int t = 0; t < rejected[i]; t++) {
        labels[(pairs + i) * seqLen + seqLen - 1 - t] = 2;
      }
    }
    int[] groupIds = {1, 0, 1, 0};
    try (PointerScope scope = new PointerScope();
         GroupRobustLoss robust = TorchAutogradTest.configs().get(0).build(new long[] {5, 5});
         GroupRobustLoss average = TorchAutogradTest.configs().get(6).build(new long[] {5, 5})) {
      Tensor labelTensor = HostTensors.longs(labels, 2 * pairs, seqLen);
      long[] rowMajor = FusedHeadPositions.labelled(labelTensor);
      Tensor hidden = torch.randn(2 * pairs, seqLen, 4);
      LmHead head = LmHead.of(torch.randn(10, 4).requires_grad_(true));
      FusedLmHead chunksOf8 = FusedLmHead.withChunkTokens(dev.grpo4j.Backend.CPU, 1, 0, 8);

      FusedHeadLayout layout = chunksOf8.layout(rowMajor, hidden, head, robust, groupIds);
      assertTrue(layout.deferred(), "deferred");
      assertArrayEquals(new int[] {1}, layout.splitPairs(), "pair 1's 12 positions do not fit a chunk of 8");
      assertEquals(12, layout.splitPositions());
      assertEquals(1, layout.wholeChunks().size(), "pairs 0 and 2 (5 + 3 positions) share a chunk");
      assertArrayEquals(new int[] {0, 2}, layout.wholeChunks().get(0));
      assertEquals(2, layout.slots());
      assertArrayEquals(new int[] {0, 1}, layout.slotOfGroup(), "slots in group order");
      List<Long> order = new ArrayList<>();
      for (int row : new int[] {1, 5, 0, 4, 2, 6}) {
        for (long k : rowMajor) {
          if (k / seqLen == row) {
            order.add(k);
          }
        }
      }
      assertArrayEquals(order.stream().mapToLong(Long::longValue).toArray(), layout.positions(),
          "split pair first, then whole pairs by group, each chosen row before its rejected row");

      FusedHeadLayout averaged = chunksOf8.layout(rowMajor, hidden, head, average, groupIds);
      assertTrue(averaged.deferred());
      assertEquals(1, averaged.slots(), "average weighting: one coefficient for every group, one slot");
      assertArrayEquals(new int[] {0, 0}, averaged.slotOfGroup());

      long slotBytes = 10 * 4 * 4;
      FusedLmHead tight = FusedLmHead.withMemoryBudget(dev.grpo4j.Backend.CPU, 1, 0, slotBytes - 1);
      FusedHeadLayout recomputed = tight.layout(rowMajor, hidden, head, robust, groupIds);
      assertTrue(!recomputed.deferred(), "a second slot of " + slotBytes + " bytes passes the budget");
      assertEquals(rowMajor.length, recomputed.splitPositions(), "every pair split");
      assertTrue(recomputed.wholeChunks().isEmpty());
      assertEquals(1, recomputed.slots());
      assertTrue(FusedLmHead.withMemoryBudget(dev.grpo4j.Backend.CPU, 1, 0, slotBytes)
          .layout(rowMajor, hidden, head, robust, groupIds).deferred(), "a second slot that fits the budget");
      assertTrue(!chunksOf8.layout(rowMajor, hidden.to(ScalarType.Half), head, robust, groupIds).deferred(),
          "float16 logits");
      assertTrue(!chunksOf8.recomputingEveryChunk().layout(rowMajor, hidden, head, robust, groupIds).deferred(),
          "recomputing every chunk");
    }
  }

  @Test
  void crossEntropyMatchesTheWholeLogits() {
    for (HeadCase h : heads()) {
      RandomPreferences batch = RandomPreferences.generate(new Random(17), h.shape(), 1.0);
      try (PointerScope scope = new PointerScope()) {
        Parameters unfused = Parameters.make(17, h);
        Parameters fused = Parameters.make(17, h);
        int rows = 2 * h.shape().pairs();
        Tensor tokenIds = torch.randint(h.shape().vocab(), new long[] {rows, h.shape().seqLen()});
        Tensor labels = PreferenceTensors.labels(batch, false);
        Tensor logits = unfused.logits(unfused.hidden(h, tokenIds));
        Tensor nll = torch.cross_entropy(logits.view(-1, h.shape().vocab()), labels.view(-1)).mul(new Scalar(0.5));
        nll.backward();
        double got = FusedLmHead.withChunkTokens(dev.grpo4j.Backend.CPU, 2, 0, h.chunk())
            .crossEntropy(fused.hidden(h, tokenIds), fused.head(), labels, 0.5);
        String name = "cross entropy | " + h;
        Close.assertClose(name + " NLL", new double[] {0.5 * got}, new double[] {nll.item_double()}, 1e-6, 1e-5);
        List<Tensor> wantGrads = unfused.gradients();
        List<Tensor> gotGrads = fused.gradients();
        for (int i = 0; i < wantGrads.size(); i++) {
          double[] w = Tensors.toDoubles(wantGrads.get(i));
          Close.assertClose(name + " gradient " + i, Tensors.toDoubles(gotGrads.get(i)), w,
              1e-6 * (1e-3 + Close.maxAbs(w)), 1e-4);
        }
      }
    }
  }

  static List<HeadCase> accumulationHeads() {
    RandomPreferences.Shape shape = new RandomPreferences.Shape("", 60, 10, 37, 2, 0, -1, -1);
    return List.of(new HeadCase("1200 positions, bias, LoRA", shape, 24, true, true, false, 1_000_000),
        new HeadCase("1200 positions, tied embedding, chunks of 500", shape, 24, false, false, true, 500),
        new HeadCase("3 groups, bias, chunks of 15: pairs whole and split",
            new RandomPreferences.Shape("", 60, 10, 37, 3, 0.3, -1, -1), 24, true, false, false, 15));
  }

  /**
   * As {@link #aSecondMicroBatchAddsItsGradientsAsAutogradDoes} for the preference loss, whose head gradients are
   * summed per group and scaled by the group coefficients at the end: two micro-batches into one gradient equal the
   * sum of each alone, bit for bit (the group weights held, as a once-per-step update holds them).
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("accumulationHeads")
  void preferenceMicroBatchesAddAsAutogradDoes(HeadCase h) {
    LossConfig c = TorchAutogradTest.configs().get(1);
    RandomPreferences first = RandomPreferences.generate(new Random(1), h.shape(), 1.0);
    RandomPreferences second = RandomPreferences.generate(new Random(2), h.shape(), 1.0);
    try (PointerScope scope = new PointerScope(); GroupRobustLoss loss = c.build(first.groupSizes())) {
      Tensor tokenIds = torch.randint(h.shape().vocab(), new long[] {2L * h.shape().pairs(), h.shape().seqLen()});
      FusedLmHead fused = FusedLmHead.withChunkTokens(dev.grpo4j.Backend.CPU, 2, 0, h.chunk());
      java.util.function.BiConsumer<Parameters, RandomPreferences> microBatch = (parameters, batch) ->
          fused.forwardBackward(loss, parameters.hidden(h, tokenIds), parameters.head(),
              PreferenceTensors.labels(batch, false),
              batch.ref(), batch.groupIds(), 0.5, s -> loss.groupStep(s.groupStatistics(), false));
      Parameters accumulated = Parameters.make(3, h);
      microBatch.accept(accumulated, first);
      microBatch.accept(accumulated, second);
      Parameters alone = Parameters.make(3, h);
      microBatch.accept(alone, first);
      Parameters other = Parameters.make(3, h);
      microBatch.accept(other, second);
      List<Tensor> got = accumulated.gradients();
      for (int i = 0; i < got.size(); i++) {
        Tensor want = alone.gradients().get(i).add(other.gradients().get(i));
        assertArrayEquals(Tensors.toDoubles(want), Tensors.toDoubles(got.get(i)), 0.0, "gradient " + i);
      }
    }
  }

  /**
   * A second micro-batch's head gradients are summed apart and then added to the first one's, as autograd adds them.
   * Summing into the earlier gradient lets the GEMM add its K panels (here 1200 positions) into it one by one, which
   * rounds otherwise: one process with gradient accumulation would then no longer equal two data-parallel ranks bit
   * for bit.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("accumulationHeads")
  void aSecondMicroBatchAddsItsGradientsAsAutogradDoes(HeadCase h) {
    try (PointerScope scope = new PointerScope()) {
      Tensor tokenIds = torch.randint(h.shape().vocab(), new long[] {2L * h.shape().pairs(), h.shape().seqLen()});
      Tensor first = PreferenceTensors.labels(RandomPreferences.generate(new Random(1), h.shape(), 1.0), false);
      Tensor second = PreferenceTensors.labels(RandomPreferences.generate(new Random(2), h.shape(), 1.0), false);
      FusedLmHead fused = FusedLmHead.withChunkTokens(dev.grpo4j.Backend.CPU, 2, 0, h.chunk());
      Parameters accumulated = Parameters.make(3, h);
      fused.crossEntropy(accumulated.hidden(h, tokenIds), accumulated.head(), first, 0.5);
      fused.crossEntropy(accumulated.hidden(h, tokenIds), accumulated.head(), second, 0.5);
      Parameters alone = Parameters.make(3, h);
      fused.crossEntropy(alone.hidden(h, tokenIds), alone.head(), first, 0.5);
      Parameters other = Parameters.make(3, h);
      fused.crossEntropy(other.hidden(h, tokenIds), other.head(), second, 0.5);
      List<Tensor> got = accumulated.gradients();
      for (int i = 0; i < got.size(); i++) {
        Tensor want = alone.gradients().get(i).add(other.gradients().get(i));
        assertArrayEquals(Tensors.toDoubles(want), Tensors.toDoubles(got.get(i)), 0.0, "gradient " + i);
      }
    }
  }

  @Test
  void sequenceLogProbsMatchTheWholeLogits() {
    HeadCase h = heads().get(1);
    RandomPreferences batch = RandomPreferences.generate(new Random(7), h.shape(), 1.0);
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard();
         GroupRobustLoss loss = TorchAutogradTest.configs().get(0).build(batch.groupSizes())) {
      Parameters p = Parameters.make(7, h);
      Tensor hidden = p.hiddenLeaf().detach();
      Tensor labels = PreferenceTensors.labels(batch, false);
      SequenceLogProbs want = new TorchPreferenceLoss(loss).sequenceLogProbs(p.logits(hidden), labels);
      SequenceLogProbs got = FusedLmHead.withChunkTokens(dev.grpo4j.Backend.CPU, 1, 0, 3)
          .sequenceLogProbs(hidden, p.head(), labels);
      Close.assertClose("sequence log-probs", got.logProbs(), Close.widen(want.logProbs()), 1e-5, 1e-6);
      for (int r = 0; r < want.tokenCounts().length; r++) {
        assertEquals(want.tokenCounts()[r], got.tokenCounts()[r], "token count of row " + r);
      }
      LossResult wantEval = new TorchPreferenceLoss(loss).evaluate(p.logits(hidden), labels,
          PreferenceTensors.ref(batch),
          PreferenceTensors.groupIds(batch));
      LossResult gotEval = FusedLmHead.withMemoryBudget(dev.grpo4j.Backend.CPU, 1, 0, 1000).evaluate(loss, hidden,
          p.head(), labels, batch.ref(), batch.groupIds());
      Close.assertClose("evaluation J", new double[] {gotEval.loss()}, new double[] {wantEval.loss()}, 1e-6, 1e-5);
      Close.assertClose("evaluation margins", gotEval.margins(), Close.widen(wantEval.margins()), 1e-5, 1e-5);
    }
  }

  @Test
  void bfloat16HeadMatchesWithinItsPrecision() {
    HeadCase h = heads().get(1);
    RandomPreferences batch = RandomPreferences.generate(new Random(11), h.shape(), 1.0);
    LossConfig c = TorchAutogradTest.configs().get(0);
    try (PointerScope scope = new PointerScope();
         GroupRobustLoss unfusedLoss = c.build(batch.groupSizes());
         GroupRobustLoss fusedLoss = c.build(batch.groupSizes())) {
      Parameters unfused = Parameters.make(11, h);
      Parameters fused = Parameters.make(11, h);
      Tensor labels = PreferenceTensors.labels(batch, false);
      Tensor wantHidden = unfused.hiddenLeaf().to(ScalarType.BFloat16);
      Tensor wantWeight = unfused.weight().to(ScalarType.BFloat16);
      Tensor wantBias = unfused.bias().to(ScalarType.BFloat16);
      Tensor logits = torch.linear(wantHidden, wantWeight, new TensorOptional(wantBias)).contiguous();
      TorchPreferenceLoss.Result want = new TorchPreferenceLoss(unfusedLoss).forwardBackward(logits, labels,
          PreferenceTensors.ref(batch), PreferenceTensors.groupIds(batch));
      logits.backward(want.grad(), new BoolOptional(), false, new TensorArrayRefOptional());

      Tensor weight = fused.weight().detach().to(ScalarType.BFloat16).requires_grad_(true);
      Tensor bias = fused.bias().detach().to(ScalarType.BFloat16).requires_grad_(true);
      Tensor hidden = fused.hiddenLeaf().to(ScalarType.BFloat16);
      LossResult got = FusedLmHead.withChunkTokens(dev.grpo4j.Backend.CPU, 2, 0, 5).forwardBackward(fusedLoss, hidden,
          new LmHead(weight, bias, null, null, 0, 0, true), labels, batch.ref(), batch.groupIds(), 1.0,
          s -> fusedLoss.groupStep(s.groupStatistics(), true));
      Close.assertClose("bf16 J", new double[] {got.loss()}, new double[] {want.lossResult().loss()}, 1e-2, 1e-2);
      double[] wantDx = Tensors.toDoubles(unfused.hiddenLeaf().grad());
      Close.assertClose("bf16 dJ/dX", Tensors.toDoubles(fused.hiddenLeaf().grad()), wantDx,
          2e-2 * Close.maxAbs(wantDx), 3e-2);
      double[] wantDw = Tensors.toDoubles(unfused.weight().grad());
      Close.assertClose("bf16 dJ/dW", Tensors.toDoubles(weight.grad()), wantDw, 2e-2 * Close.maxAbs(wantDw), 3e-2);
    }
  }

  /**
   * Peak resident memory of one training call, fused head against the whole logits (written over in place, the
   * trainer's way), at V = 32000 and 512 positions: 65 MB of logits that the fused head, with a 4 MB budget per chunk,
   * never forms. Measured in a JVM of its own ({@link FusedLmHeadMemoryProbe}), where earlier tests' freed memory
   * cannot hide an allocation.
   */
  @Test
  void peakMemoryOfACallIsFarBelowTheWholeLogits(@TempDir Path logs) {
    assumeTrue(Files.isWritable(Path.of("/proc/self/clear_refs")), "needs Linux's /proc/self/clear_refs");
    try (ChildJvm probe = ChildJvm.start(logs, "memory", Map.of("MALLOC_MMAP_THRESHOLD_", "65536"), List.of(),
        FusedLmHeadMemoryProbe.class.getName())) {
      assertEquals(0, probe.waitFor(Duration.ofMinutes(2)), probe.output());
      Matcher m = Pattern.compile("whole (\\d+) fused (\\d+)").matcher(probe.stdout());
      assertTrue(m.find(), probe.output());
      long whole = Long.parseLong(m.group(1));
      long fused = Long.parseLong(m.group(2));
      System.out.printf("peak memory of one call: whole logits %.1f MB, fused head %.1f MB%n", whole / 1e6,
          fused / 1e6);
      assertTrue(whole > FusedLmHeadMemoryProbe.LOGITS_BYTES, "the whole-logits call peaked at only " + whole
          + " bytes");
      assertTrue(fused < whole / 4, "fused head peak " + fused + " bytes vs whole logits " + whole);
    }
  }
}
