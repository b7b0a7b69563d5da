package dev.grpo4j.bench;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.grpo4j.GroupNormalization;
import dev.grpo4j.LossType;
import dev.grpo4j.Weighting;
import dev.grpo4j.platform.LibTorch;
import dev.grpo4j.testing.LossConfig;
import dev.grpo4j.testing.TorchObjective;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * GR-DPO written the way a libtorch user writes it without a fused kernel: the shared {@link TorchObjective} (eager
 * ops with autograd) computed in fp32 from log_softmax on, as {@code logits.log_softmax(-1, dtype=torch.float32)}
 * in TRL-style code: log_softmax over V, gather of the labels' log-probs, masked sum per row, margins, DPO's
 * -logsigmoid, per-group means (index_add), the exponentiated-gradient update of the group weights on the detached
 * group losses (K numbers), and the weighted objective J, whose backward() gives dJ/dlogits. This class holds the
 * inputs and the weights between calls, and the tensor helpers of the benchmarks.
 */
final class TorchGrDpo {
  static {
    LibTorch.load();
  }

  /** The benchmarks' loss (see {@link BenchData#lossBuilder()}) as a configuration of the libtorch objective. */
  static final LossConfig CONFIG = new LossConfig("GR-DPO", LossType.DPO, Weighting.ROBUST,
      GroupNormalization.BATCH_MEAN, BenchData.BETA, 0, false, BenchData.ETA, 1.0, 0);

  private final Tensor labels;
  private final Tensor ref;
  private final Tensor groupIds;
  private final long[] groupSizes;
  private double[] logAlpha;

  /**
   * @param labels [2B, T] int64 (-100 masks)
   * @param ref [2B] fp32 reference log-probs
   * @param groupIds [B] group of each pair, in [0, K)
   */
  TorchGrDpo(Tensor labels, Tensor ref, int[] groupIds) {
    this.labels = labels;
    this.ref = ref;
    long[] ids = new long[groupIds.length];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = groupIds[i];
    }
    this.groupIds = empty(ScalarType.Long, ids.length);
    MemorySegment.copy(ids, 0, data(this.groupIds), JAVA_LONG, 0, ids.length);
    // BATCH_MEAN does not read the data-set sizes; the objective takes K from them.
    this.groupSizes = new long[BenchData.GROUPS];
    Arrays.fill(groupSizes, 1);
    this.logAlpha = new double[BenchData.GROUPS];
    Arrays.fill(logAlpha, -Math.log(BenchData.GROUPS));
  }

  /** Per-row masked sequence log-probs s_r [2B], fp32. */
  Tensor sequenceLogps(Tensor logits) {
    return TorchObjective.sequences(logits, labels, ScalarType.Float).logps();
  }

  /**
   * The objective J (a 0-dim fp32 tensor connected to the logits' graph). {@code train} updates the group weights
   * first (a training step); otherwise J uses the current weights (evaluation).
   */
  Tensor objective(Tensor logits, boolean train) {
    TorchObjective.Parts parts = TorchObjective.parts(CONFIG, logits, labels, ref, groupIds, groupSizes,
        ScalarType.Float);
    if (train) {
      logAlpha = TorchObjective.toDoubles(TorchObjective.updatedLogAlpha(CONFIG, parts, logAlpha));
    }
    double[] weights = new double[logAlpha.length];
    for (int g = 0; g < weights.length; g++) {
      weights[g] = Math.exp(logAlpha[g]);
    }
    return TorchObjective.objective(CONFIG, parts, weights);
  }

  static Tensor empty(ScalarType type, long... shape) {
    return torch.empty(shape, new TensorOptions(type), new MemoryFormatOptional());
  }

  static Tensor floats(float[] values) {
    Tensor t = empty(ScalarType.Float, values.length);
    MemorySegment.copy(values, 0, data(t), JAVA_FLOAT, 0, values.length);
    return t;
  }

  /** A dense CPU tensor's storage as a segment. */
  static MemorySegment data(Tensor t) {
    return MemorySegment.ofAddress(t.data_ptr().address()).reinterpret(t.nbytes());
  }

  static ScalarType scalarType(Dtype dtype) {
    return dtype == Dtype.F32 ? ScalarType.Float : ScalarType.BFloat16;
  }
}
