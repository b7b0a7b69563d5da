package dev.grpo4j.bench;

import dev.grpo4j.platform.LibTorch;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
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
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * The baseline: the same GR-DPO objective with libtorch's unfused eager ops and autograd ({@link TorchGrDpo}), on
 * the same inputs, libtorch's default intra-op thread count. Each call runs in a PointerScope, as a training loop
 * must (SPEC §7), so its tensors are freed when it returns.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {Jvm.NATIVE_ACCESS, Jvm.XMS, Jvm.XMX, Jvm.PRETOUCH, Jvm.JAVACPP_NO_LIMIT})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@State(Scope.Benchmark)
@SuppressWarnings("try") // PointerScope and NoGradGuard act by existing
public class LibtorchBench extends MeasuredState {
  static {
    LibTorch.load();
  }

  @Param({"16x64x256", "4x256x32000", "8x512x32000", "2x1024x128256"})
  public String shape;

  @Param({"f32", "bf16"})
  public String dtype;

  private Tensor logits;
  private TorchGrDpo objective;

  @Setup(Level.Trial)
  public void setup(BenchmarkParams params) {
    begin(params);
    Shape s = Shape.parse(shape);
    Dtype type = Dtype.parse(dtype);
    logits = TorchGrDpo.empty(TorchGrDpo.scalarType(type), s.rows(), s.seqLen(), s.vocab());
    Tensor labels = TorchGrDpo.empty(ScalarType.Long, s.rows(), s.seqLen());
    Tensor ref = TorchGrDpo.empty(ScalarType.Float, s.rows());
    BenchData.fillLogits(TorchGrDpo.data(logits), s.elements(), type);
    BenchData.fillLabels(TorchGrDpo.data(labels), s);
    BenchData.fillRef(TorchGrDpo.data(ref), s);
    int[] ids = new int[s.pairs()];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = BenchData.groupOf(i);
    }
    objective = new TorchGrDpo(labels, ref, ids);
    System.out.println("libtorch intra-op threads: " + torch.get_num_threads());

    String name = "libtorch " + method();
    boolean train = method().equals("forwardBackward");
    Expected want = Expected.of(name, s, TorchGrDpo.data(logits), type, TorchGrDpo.data(labels),
        TorchGrDpo.data(ref), train);
    try (PointerScope scope = new PointerScope()) {
      if (train) {
        Tensor x = logits.detach().requires_grad_(true);
        Tensor j = objective.objective(x, true);
        j.backward();
        want.verifyLoss(j.item_double());
        want.verifyGradient(TorchGrDpo.data(x.grad()));
      } else {
        try (NoGradGuard noGrad = new NoGradGuard()) {
          want.verifyLoss(objective.objective(logits, false).item_double());
          Tensor rows = objective.sequenceLogps(logits).contiguous();
          float[] logps = new float[s.rows()];
          MemorySegment.copy(TorchGrDpo.data(rows), java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, logps, 0, logps.length);
          want.verifyLogps(logps);
        }
      }
    }
  }

  /** Training step's loss part: objective with autograd, backward to dJ/dlogits (a new tensor each call). */
  @Benchmark
  public double forwardBackward() {
    try (PointerScope scope = new PointerScope()) {
      Tensor x = logits.detach().requires_grad_(true);
      Tensor j = objective.objective(x, true);
      j.backward();
      return j.item_double() + x.grad().data_ptr().address();
    }
  }

  /** Evaluation: the objective under NoGradGuard (no graph, no weight update). */
  @Benchmark
  public double forward() {
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      return objective.objective(logits, false).item_double();
    }
  }
}
