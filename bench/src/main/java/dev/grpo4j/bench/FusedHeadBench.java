package dev.grpo4j.bench;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LossResult;
import dev.grpo4j.platform.LibTorch;
import dev.grpo4j.torch.FusedLmHead;
import dev.grpo4j.torch.LmHead;
import dev.grpo4j.torch.TorchPreferenceLoss;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * The LM head and the preference loss together, from last hidden states {@code X [2B, T, H]} and a head
 * {@code W [V, H]} to J, dJ/dX and dJ/dW (GR-DPO, fp32, every position labelled), three ways:
 * {@link #libtorchAutograd} (a) {@code logits = X W^T} and the loss in libtorch ops ({@link TorchGrDpo}) with autograd;
 * {@link #libtorchLinearFusedLoss} (b) the same logits and grpo4j's fused logits loss writing dJ/dlogits over them,
 * then autograd through the linear layer; {@link #fusedHead} (c) grpo4j's {@link FusedLmHead}, chunks of
 * {@link #chunkMib} MiB of logits, which never forms them whole; {@link #fusedHeadRecomputing} (d) the same head
 * made to work through every chunk twice (log-probs, then the gradient after the group step), as it does for pairs
 * that do not fit a chunk, or when the per-group sums of dW would pass the budget. Shapes {@code pairs x T x H x V}; the default is Qwen2.5-0.5B's head at 8
 * pairs x 512 tokens. Single-shot: one call per iteration (a call at the default shape takes tens of seconds here).
 * Before timing, each variant's J and |dJ/dW| are checked against (b)'s.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {Jvm.NATIVE_ACCESS, Jvm.XMS, Jvm.XMX, Jvm.PRETOUCH, Jvm.JAVACPP_NO_LIMIT})
@Warmup(iterations = 1)
@Measurement(iterations = 2)
@State(Scope.Benchmark)
@SuppressWarnings("try") // PointerScope acts by existing
public class FusedHeadBench extends MeasuredState {
  static {
    LibTorch.load();
  }

  @Param({"8x512x896x151936"})
  public String shape;

  /**
   * Final-logit soft-cap {@code c} (Gemma 2's 30), 0 for none: every variant's logits are {@code c tanh(z / c)},
   * the fused head's applied per chunk with their derivative in the gradient.
   */
  @Param({"0"})
  public double softcap;

  /** Logits memory per chunk of {@link #fusedHead}, MiB; 256 is the trainer's default. */
  @Param({"256"})
  public int chunkMib;

  private Tensor hidden;
  private Tensor weight;
  private Tensor labels;
  private Tensor ref;
  private Tensor groupIds;
  private float[] refValues;
  private int[] ids;
  private GroupRobustLoss loss;
  private TorchGrDpo objective;
  private FusedLmHead head;

  @Setup(Level.Trial)
  public void setup(BenchmarkParams params) {
    begin(params);
    NativeLib.init();
    String[] parts = shape.split("x");
    Shape s = new Shape(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]), Integer.parseInt(parts[3]));
    int width = Integer.parseInt(parts[2]);
    torch.manual_seed(5);
    hidden = torch.randn(s.rows(), s.seqLen(), width).requires_grad_(true);
    weight = torch.randn(s.vocab(), width).mul(new Scalar(0.04)).requires_grad_(true);
    labels = TorchGrDpo.empty(ScalarType.Long, s.rows(), s.seqLen());
    for (long p = 0; p < s.positions(); p++) {
      TorchGrDpo.data(labels).setAtIndex(JAVA_LONG, p, BenchData.label(p, s.vocab()));
    }
    refValues = new float[s.rows()];
    java.util.Arrays.fill(refValues, (float) (-s.seqLen() * Math.log(s.vocab())));
    ref = TorchGrDpo.floats(refValues);
    ids = new int[s.pairs()];
    groupIds = TorchGrDpo.empty(ScalarType.Int, s.pairs());
    for (int i = 0; i < ids.length; i++) {
      ids[i] = BenchData.groupOf(i);
      TorchGrDpo.data(groupIds).setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, i, ids[i]);
    }
    objective = new TorchGrDpo(labels, ref, ids);
    head = FusedLmHead.withMemoryBudget(Backend.CPU, 0, 0, (long) chunkMib << 20);

    double[] want = call("libtorchLinearFusedLoss");
    double[] got = call(method());
    if (Math.abs(got[0] - want[0]) > 1e-4 * Math.max(1, Math.abs(want[0]))
        || Math.abs(got[1] - want[1]) > 1e-3 * want[1]) {
      throw new IllegalStateException(method() + ": J = " + got[0] + ", |dJ/dW| = " + got[1] + "; the fused logits "
          + "loss gives " + want[0] + ", " + want[1]);
    }
  }

  /** One call of {@code variant} from fresh gradients (and group weights); J and |dJ/dW|. */
  private double[] call(String variant) {
    if (loss != null) {
      loss.close();
    }
    loss = BenchData.lossBuilder().backend(Backend.CPU).build();
    objective = new TorchGrDpo(labels, ref, ids);
    double j = switch (variant) {
      case "libtorchAutograd" -> libtorchAutograd();
      case "libtorchLinearFusedLoss" -> libtorchLinearFusedLoss();
      case "fusedHead" -> fusedHead();
      case "fusedHeadRecomputing" -> fusedHeadRecomputing();
      default -> throw new IllegalStateException("unknown benchmark " + variant);
    };
    double norm = weight.grad().norm().item_double();
    return new double[] {j, norm};
  }

  private void dropGradients() {
    hidden.mutable_grad().reset();
    weight.mutable_grad().reset();
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    loss.close();
  }

  /** (a) Logits and the loss in libtorch ops, backward by autograd. */
  @Benchmark
  public double libtorchAutograd() {
    dropGradients();
    try (PointerScope scope = new PointerScope()) {
      Tensor logits = capped(torch.linear(hidden, weight));
      Tensor j = objective.objective(logits, true);
      j.backward();
      return j.item_double();
    }
  }

  /** (b) Logits in libtorch, grpo4j's fused loss over them in place, autograd through the linear layer. */
  @Benchmark
  public double libtorchLinearFusedLoss() {
    dropGradients();
    try (PointerScope scope = new PointerScope()) {
      Tensor logits = capped(torch.linear(hidden, weight));
      LossResult r = new TorchPreferenceLoss(loss).forwardBackward(logits, labels, ref, groupIds, logits.detach())
          .lossResult();
      logits.backward(logits.detach(), new BoolOptional(), false, new TensorArrayRefOptional());
      return r.loss();
    }
  }

  /** (c) grpo4j's fused head: chunks of logits, each taken once where its pairs fit it whole. */
  @Benchmark
  public double fusedHead() {
    return fused(head);
  }

  /** (d) grpo4j's fused head with every chunk recomputed for the gradient. */
  @Benchmark
  public double fusedHeadRecomputing() {
    return fused(head.recomputingEveryChunk());
  }

  private double fused(FusedLmHead via) {
    dropGradients();
    try (PointerScope scope = new PointerScope()) {
      return via.forwardBackward(loss, hidden, LmHead.of(weight).withLogits(1, softcap), labels, refValues, ids,
          1.0, s -> loss.groupStep(s.groupStatistics(), true)).loss();
    }
  }

  /** {@code c tanh(z / c)}, or z itself without a soft-cap. */
  private Tensor capped(Tensor z) {
    if (softcap == 0) {
      return z;
    }
    Scalar c = new Scalar(softcap);
    return z.div(c).tanh().mul(c);
  }
}
