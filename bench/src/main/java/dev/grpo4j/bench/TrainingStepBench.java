package dev.grpo4j.bench;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LabelType;
import dev.grpo4j.LogitsType;
import dev.grpo4j.LossResult;
import dev.grpo4j.PreferenceBatch;
import dev.grpo4j.TokenLogits;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Models;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.platform.LibTorch;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.BoolOptional;
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
 * One whole training step of a tiny model (the built-in {@code tiny-llama} the demo trains: Llama blocks, width 64,
 * two layers, here with V = 256) on 16 pairs x T = 64 (the first 16 positions of every row masked as prompt), AdamW:
 * policy forward, loss and dJ/dlogits, backward through the model, optimizer step. {@link #fusedLoss} takes the
 * gradient from the fused kernel written over the logits' storage (what grpo4j-trainer's TorchPreferenceLoss and
 * PreferenceTrainer do, minus the adapter's tensor checks); {@link #libtorchLoss} from autograd through the
 * unfused objective ({@link TorchGrDpo}).
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {Jvm.NATIVE_ACCESS, Jvm.XMS, Jvm.XMX, Jvm.PRETOUCH, Jvm.JAVACPP_NO_LIMIT})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@State(Scope.Benchmark)
@SuppressWarnings("try") // PointerScope acts by existing
public class TrainingStepBench extends MeasuredState {
  static {
    LibTorch.load();
  }

  static final Shape SHAPE = Shape.parse("16x64x256");
  static final int PROMPT = 16;
  private static final int VOCAB = 256;

  /** Threads of the fused kernel (0: every core, the default); a diagnostic knob, see bench/NOTES.md. */
  @Param({"0"})
  public int lossThreads;

  private TransformerLm model;
  private AdamW optimizer;
  private Tensor inputIds;
  private Tensor labels;
  private Tensor ref;
  private Tensor groupIds;
  private GroupRobustLoss loss;
  private TorchGrDpo objective;

  @Setup(Level.Trial)
  public void setup(BenchmarkParams params) {
    begin(params);
    NativeLib.init();
    Shape s = SHAPE;
    torch.manual_seed(3);
    model = Models.random(ModelConfig.tiny("tiny-llama", VOCAB), 3);
    optimizer = new AdamW(model.parameters(), new AdamWOptions(1e-4));
    inputIds = TorchGrDpo.empty(ScalarType.Long, s.rows(), s.seqLen());
    labels = TorchGrDpo.empty(ScalarType.Long, s.rows(), s.seqLen());
    MemorySegment in = TorchGrDpo.data(inputIds);
    MemorySegment lab = TorchGrDpo.data(labels);
    for (long p = 0; p < s.positions(); p++) {
      in.setAtIndex(JAVA_LONG, p, BenchData.label(p + 7, VOCAB));
      lab.setAtIndex(JAVA_LONG, p, p % s.seqLen() < PROMPT ? -100 : BenchData.label(p, VOCAB));
    }
    float[] refValues = new float[s.rows()];
    java.util.Arrays.fill(refValues, (float) (-(s.seqLen() - PROMPT) * Math.log(VOCAB)));
    ref = TorchGrDpo.floats(refValues);
    int[] ids = new int[s.pairs()];
    groupIds = TorchGrDpo.empty(ScalarType.Int, s.pairs());
    for (int i = 0; i < ids.length; i++) {
      ids[i] = BenchData.groupOf(i);
      TorchGrDpo.data(groupIds).setAtIndex(JAVA_INT, i, ids[i]);
    }
    loss = BenchData.lossBuilder().backend(Backend.CPU).threads(lossThreads).build();
    objective = new TorchGrDpo(labels, ref, ids);

    // Check: from the same weights, the fused loss and libtorch's autograd agree on J and on dJ/dlogits.
    try (PointerScope scope = new PointerScope()) {
      Tensor logits = model.forward(inputIds).detach().contiguous();
      Tensor fusedGrad = TorchGrDpo.empty(ScalarType.Float, s.rows(), s.seqLen(), s.vocab());
      LossResult fused = fusedLoss(logits, fusedGrad);
      Tensor x = logits.detach().requires_grad_(true);
      Tensor j = objective.objective(x, true);
      j.backward();
      double want = j.item_double();
      if (Math.abs(fused.loss() - want) > 1e-4 * Math.max(1, Math.abs(want))) {
        throw new IllegalStateException("training step: fused J = " + fused.loss() + ", libtorch " + want);
      }
      MemorySegment a = TorchGrDpo.data(fusedGrad);
      MemorySegment b = TorchGrDpo.data(x.grad().contiguous());
      double scale = 0;
      for (long e = 0; e < s.elements(); e++) {
        scale = Math.max(scale, Math.abs(b.getAtIndex(JAVA_FLOAT, e)));
      }
      for (long e = 0; e < s.elements(); e++) {
        float ga = a.getAtIndex(JAVA_FLOAT, e);
        float gb = b.getAtIndex(JAVA_FLOAT, e);
        if (Math.abs(ga - gb) > 1e-3 * Math.abs(gb) + 1e-5 * scale) {
          throw new IllegalStateException("training step: dJ/dlogits element " + e + " fused " + ga + ", libtorch " + gb);
        }
      }
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    loss.close();
  }

  @Benchmark
  public double fusedLoss() {
    try (PointerScope scope = new PointerScope()) {
      optimizer.zero_grad();
      Tensor logits = model.forward(inputIds);
      Tensor grad = logits.detach();
      LossResult r = fusedLoss(logits, grad);
      logits.backward(grad, new BoolOptional(), false, new TensorArrayRefOptional());
      optimizer.step();
      return r.loss();
    }
  }

  /** The fused kernel on the tensors' storage (contiguous fp32 CPU tensors); grad may share the logits' storage. */
  private LossResult fusedLoss(Tensor logits, Tensor grad) {
    Shape s = SHAPE;
    TokenLogits tokens = new TokenLogits(TorchGrDpo.data(logits), LogitsType.F32, TorchGrDpo.data(labels),
        LabelType.I64, s.rows(), s.seqLen(), s.vocab());
    return loss.forwardBackward(new PreferenceBatch(tokens, TorchGrDpo.data(ref), TorchGrDpo.data(groupIds)),
        TorchGrDpo.data(grad));
  }

  @Benchmark
  public double libtorchLoss() {
    try (PointerScope scope = new PointerScope()) {
      optimizer.zero_grad();
      Tensor j = objective.objective(model.forward(inputIds), true);
      j.backward();
      optimizer.step();
      return j.item_double();
    }
  }
}
