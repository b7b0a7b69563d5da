package dev.grpo4j.bench;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.MemorySegment;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * GR-DPO written the way a libtorch user writes it without a fused kernel: eager ops with autograd, in the
 * logits' dtype up to log_softmax, which (like {@code logits.float().log_softmax(-1)} in TRL-style code) computes
 * in fp32. Per call: log_softmax over V, gather of the labels' log-probs, masked sum per row, margins, DPO's
 * -logsigmoid, per-group means (index_add), the exponentiated-gradient update of the group weights on the detached
 * group losses (in Java: K numbers), and the weighted objective J, whose backward() gives dJ/dlogits.
 */
final class TorchGrDpo {
  private final int pairs;
  private final Tensor labels;
  private final Tensor ref;
  private final Tensor groupIds;
  private final Tensor groupCounts;
  private final double[] logAlpha = Reference.uniformLogAlpha();

  /**
   * @param labels [2B, T] int64 (-100 masks)
   * @param ref [2B] fp32 reference log-probs
   * @param groupIds [B] group of each pair, in [0, K)
   */
  TorchGrDpo(Tensor labels, Tensor ref, int[] groupIds) {
    this.pairs = groupIds.length;
    this.labels = labels;
    this.ref = ref;
    long[] ids = new long[pairs];
    float[] counts = new float[BenchData.GROUPS];
    for (int i = 0; i < pairs; i++) {
      ids[i] = groupIds[i];
      counts[groupIds[i]]++;
    }
    for (int g = 0; g < counts.length; g++) {
      counts[g] = Math.max(counts[g], 1);
    }
    this.groupIds = empty(ScalarType.Long, pairs);
    MemorySegment.copy(ids, 0, data(this.groupIds), java.lang.foreign.ValueLayout.JAVA_LONG, 0, pairs);
    this.groupCounts = floats(counts);
  }

  /** Per-row masked sequence log-probs s_r [2B], fp32. */
  Tensor sequenceLogps(Tensor logits) {
    Tensor mask = labels.ne(new Scalar(-100L));
    Tensor safe = labels.masked_fill(mask.logical_not(), new Scalar(0L));
    Tensor logp = logits.log_softmax(2, new ScalarTypeOptional(ScalarType.Float));
    return logp.gather(2, safe.unsqueeze(2)).squeeze(2).mul(mask).sum(1);
  }

  /**
   * The objective J (a 0-dim fp32 tensor connected to the logits' graph). {@code train} updates the group weights
   * first (a training step); otherwise J uses the current weights (evaluation).
   */
  Tensor objective(Tensor logits, boolean train) {
    Tensor s = sequenceLogps(logits);
    Tensor chosen = s.narrow(0, 0, pairs).sub(ref.narrow(0, 0, pairs));
    Tensor rejected = s.narrow(0, pairs, pairs).sub(ref.narrow(0, pairs, pairs));
    Tensor pairLoss = torch.log_sigmoid(chosen.sub(rejected).mul(new Scalar(BenchData.BETA))).neg();
    Tensor groupLoss = torch.zeros(new long[] {BenchData.GROUPS}, new TensorOptions(ScalarType.Float))
        .index_add(0, groupIds, pairLoss).div(groupCounts);
    Tensor detached = groupLoss.detach().contiguous();
    double[] weights = new double[BenchData.GROUPS];
    if (train) {
      double max = Double.NEGATIVE_INFINITY;
      for (int g = 0; g < weights.length; g++) {
        logAlpha[g] += BenchData.ETA * data(detached).getAtIndex(JAVA_FLOAT, g);
        max = Math.max(max, logAlpha[g]);
      }
      double z = 0;
      for (double a : logAlpha) {
        z += Math.exp(a - max);
      }
      double logZ = max + Math.log(z);
      for (int g = 0; g < weights.length; g++) {
        logAlpha[g] -= logZ;
      }
    }
    float[] w = new float[weights.length];
    for (int g = 0; g < w.length; g++) {
      w[g] = (float) Math.exp(logAlpha[g]);
    }
    return groupLoss.mul(floats(w)).sum();
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
