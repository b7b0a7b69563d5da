package dev.grpo4j.testing;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;

import dev.grpo4j.GroupNormalization;
import dev.grpo4j.LossType;
import dev.grpo4j.TokenLogits;
import dev.grpo4j.Weighting;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The group-robust preference objective written with libtorch's own differentiable ops (log_softmax, gather,
 * index_add, log_sigmoid), the way a libtorch user writes it without a fused kernel. In float64 after the logits it
 * is the independent oracle the fused kernel is compared against, gradient included (by autograd); in float32 it is
 * the unfused baseline the benchmarks time. The only copy of the loss formulas on the JVM besides the kernel's.
 */
public final class TorchObjective {
  /**
   * Every intermediate of one forward pass; all [2B], [B] or [K] tensors of the compute type.
   *
   * @param groupLoss {@code L_g} as the kernel reports it; {@code adjustedGroupLoss} adds {@code C / sqrt(N_g)}
   */
  public record Parts(Tensor seqLogps, Tensor tokenCounts, Tensor margin, Tensor pairLoss, Tensor groupLoss,
               Tensor adjustedGroupLoss, Tensor groupCount) {}

  /** Masked sequence log-probs s_r and unmasked-position counts, [R] float64 each. */
  public record Sequences(Tensor logps, Tensor tokenCounts) {}

  private TorchObjective() {}

  /** In float64: the oracle. */
  public static Sequences sequences(Tensor logits, Tensor labels) {
    return sequences(logits, labels, ScalarType.Double);
  }

  /**
   * Masked sequence log-probs computed in {@code type}: log_softmax upcasts internally (no full-size copy of the
   * logits in that type), as {@code logits.log_softmax(-1, dtype=...)} does in PyTorch.
   */
  public static Sequences sequences(Tensor logits, Tensor labels, ScalarType type) {
    Tensor logProbs = logits.log_softmax(2, new ScalarTypeOptional(type));
    Tensor mask = labels.ne(new Scalar(TokenLogits.IGNORE_INDEX));
    // gather needs a valid index everywhere; masked positions gather token 0 and are then zeroed by the mask.
    Tensor safeLabels = labels.masked_fill(mask.logical_not(), new Scalar(0)).to(ScalarType.Long);
    Tensor maskD = mask.to(type);
    Tensor tokenLogps = logProbs.gather(2, safeLabels.unsqueeze(2)).squeeze(2).mul(maskD);
    return new Sequences(tokenLogps.sum(1), maskD.sum(1));
  }

  /** Every intermediate in float64: the oracle. */
  public static Parts parts(LossConfig c, Tensor logits, Tensor labels, Tensor refLogps, Tensor groupIds,
                            long[] groupSizes) {
    return parts(c, logits, labels, refLogps, groupIds, groupSizes, ScalarType.Double);
  }

  /** Every intermediate, computed in {@code type} from the log-softmax on. */
  public static Parts parts(LossConfig c, Tensor logits, Tensor labels, Tensor refLogps, Tensor groupIds,
                            long[] groupSizes, ScalarType type) {
    long pairs = groupIds.size(0);
    int groups = groupSizes.length;
    Sequences sequences = sequences(logits, labels, type);
    Tensor seqLogps = sequences.logps();
    Tensor tokenCounts = sequences.tokenCounts();

    Tensor ref = refLogps.to(type);
    Tensor chosen = seqLogps.narrow(0, 0, pairs).sub(ref.narrow(0, 0, pairs));
    Tensor rejected = seqLogps.narrow(0, pairs, pairs).sub(ref.narrow(0, pairs, pairs));
    Tensor margin = chosen.sub(rejected);
    Tensor pairLoss;
    if (c.lossType() == LossType.DPO) {
      Tensor x = margin.mul(new Scalar(c.beta()));
      pairLoss = torch.log_sigmoid(x).mul(new Scalar(-(1 - c.labelSmoothing())))
          .sub(torch.log_sigmoid(x.neg()).mul(new Scalar(c.labelSmoothing())));
    } else {
      Tensor nw = c.ipoLengthNorm() ? tokenCounts.narrow(0, 0, pairs).clamp_min(new Scalar(1.0)) : ones(pairs, type);
      Tensor nl = c.ipoLengthNorm() ? tokenCounts.narrow(0, pairs, pairs).clamp_min(new Scalar(1.0))
          : ones(pairs, type);
      pairLoss = chosen.div(nw).sub(rejected.div(nl)).sub(new Scalar(1 / (2 * c.beta()))).square();
    }

    Tensor ids = groupIds.to(ScalarType.Long);
    Tensor groupSum = zeros(groups, type).index_add(0, ids, pairLoss);
    Tensor groupCount = zeros(groups, type).index_add(0, ids, ones(pairs, type));
    Tensor present = groupCount.gt(new Scalar(0.0)).to(type);
    Tensor normaliser;
    if (c.normalization() == GroupNormalization.BATCH_MEAN) {
      normaliser = present.div(groupCount.clamp_min(new Scalar(1.0)));
    } else {
      long total = 0;
      for (long n : groupSizes) {
        total += n;
      }
      double[] frequency = new double[groups];
      for (int g = 0; g < groups; g++) {
        frequency[g] = (double) total / ((double) groupSizes[g] * pairs);
      }
      normaliser = present.mul(values(frequency, type));
    }
    Tensor groupLoss = groupSum.mul(normaliser);
    Tensor adjusted = groupLoss;
    if (c.adjustment() != 0) {
      double[] bonus = new double[groups];
      for (int g = 0; g < groups; g++) {
        bonus[g] = c.adjustment() / Math.sqrt(groupSizes[g]);
      }
      adjusted = groupLoss.add(values(bonus, type));
    }
    return new Parts(seqLogps, tokenCounts, margin, pairLoss, groupLoss, adjusted, groupCount);
  }

  /**
   * The objective J: the mean pair loss for AVERAGE, otherwise {@code sum_g w_g L_g} with the weights held
   * constant (the robust update uses detached losses, so the weights carry no gradient).
   */
  public static Tensor objective(LossConfig c, Parts p, double[] weights) {
    if (c.weighting() == Weighting.AVERAGE) {
      return p.pairLoss().mean();
    }
    return p.adjustedGroupLoss().mul(values(weights, p.adjustedGroupLoss().scalar_type())).sum();
  }

  /**
   * The weights J uses after a training call: the exponentiated-gradient step
   * {@code alpha = softmax(logAlphaBefore + eta L_g)} mixed with uniform by chi (ROBUST), {@code ∝ 1/N_g}
   * (IMPORTANCE_SAMPLING), or the batch shares of the groups (AVERAGE).
   */
  public static double[] expectedWeights(LossConfig c, Parts p, double[] logAlphaBefore, long[] groupSizes) {
    int groups = groupSizes.length;
    return switch (c.weighting()) {
      case ROBUST -> {
        double[] alpha = toDoubles(torch.softmax(updatedLogAlpha(c, p, logAlphaBefore), 0));
        double[] w = new double[groups];
        for (int g = 0; g < groups; g++) {
          w[g] = c.chi() * alpha[g] + (1 - c.chi()) / groups;
        }
        yield w;
      }
      case IMPORTANCE_SAMPLING -> {
        double[] inverse = new double[groups];
        double sum = 0;
        for (int g = 0; g < groups; g++) {
          inverse[g] = 1.0 / groupSizes[g];
          sum += inverse[g];
        }
        for (int g = 0; g < groups; g++) {
          inverse[g] /= sum;
        }
        yield inverse;
      }
      case AVERAGE -> toDoubles(p.groupCount().div(new Scalar((double) p.margin().size(0))));
    };
  }

  /**
   * The exponentiated-gradient step of the robust weights in log space, on the detached (adjusted) group losses:
   * {@code log alpha + eta A_g}, normalised by its log-sum-exp.
   */
  public static Tensor updatedLogAlpha(LossConfig c, Parts p, double[] logAlphaBefore) {
    Tensor moved = values(logAlphaBefore, ScalarType.Double)
        .add(p.adjustedGroupLoss().detach().to(ScalarType.Double).mul(new Scalar(c.eta())));
    return moved.sub(moved.logsumexp(new long[] {0}, false));
  }

  /** A 1-d tensor of {@code type} holding {@code values}. */
  public static Tensor values(double[] values, ScalarType type) {
    Tensor t = torch.empty(new long[] {values.length}, new TensorOptions(ScalarType.Double),
        new MemoryFormatOptional());
    MemorySegment.copy(values, 0, MemorySegment.ofAddress(t.data_ptr().address()).reinterpret(t.nbytes()),
        JAVA_DOUBLE, 0, values.length);
    return t.to(type);
  }

  /** Every element of a tensor of any real type and layout, widened to double. */
  public static double[] toDoubles(Tensor t) {
    Tensor dense = t.detach().to(ScalarType.Double).contiguous();
    double[] out = new double[(int) dense.numel()];
    MemorySegment.copy(MemorySegment.ofAddress(dense.data_ptr().address()).reinterpret(dense.nbytes()), JAVA_DOUBLE,
        0, out, 0, out.length);
    Reference.reachabilityFence(dense);
    return out;
  }

  private static Tensor zeros(long n, ScalarType type) {
    return torch.zeros(new long[] {n}, new TensorOptions(type));
  }

  private static Tensor ones(long n, ScalarType type) {
    return torch.ones(new long[] {n}, new TensorOptions(type));
  }
}
