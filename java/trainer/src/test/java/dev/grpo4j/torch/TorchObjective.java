package dev.grpo4j.torch;

import dev.grpo4j.GroupNormalization;
import dev.grpo4j.LossType;
import dev.grpo4j.TokenLogits;
import dev.grpo4j.Weighting;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The group-robust preference objective written with libtorch's own differentiable ops (log_softmax, gather,
 * index_add, log_sigmoid), in float64 after the logits: the independent oracle the fused kernel is compared
 * against, gradient included (by autograd).
 */
final class TorchObjective {
  /**
   * Every intermediate of one forward pass; all [2B], [B] or [K] float64 tensors.
   *
   * @param groupLoss {@code L_g} as the kernel reports it; {@code adjustedGroupLoss} adds {@code C / sqrt(N_g)}
   */
  record Parts(Tensor seqLogps, Tensor tokenCounts, Tensor margin, Tensor pairLoss, Tensor groupLoss,
               Tensor adjustedGroupLoss, Tensor groupCount) {}

  /** Masked sequence log-probs s_r and unmasked-position counts, [R] float64 each. */
  record Sequences(Tensor logps, Tensor tokenCounts) {}

  private TorchObjective() {}

  static Sequences sequences(Tensor logits, Tensor labels) {
    Tensor logProbs = logits.to(ScalarType.Double).log_softmax(2);
    Tensor mask = labels.ne(new Scalar(TokenLogits.IGNORE_INDEX));
    // gather needs a valid index everywhere; masked positions gather token 0 and are then zeroed by the mask.
    Tensor safeLabels = labels.masked_fill(mask.logical_not(), new Scalar(0)).to(ScalarType.Long);
    Tensor maskD = mask.to(ScalarType.Double);
    Tensor tokenLogps = logProbs.gather(2, safeLabels.unsqueeze(2)).squeeze(2).mul(maskD);
    return new Sequences(tokenLogps.sum(1), maskD.sum(1));
  }

  static Parts parts(LossConfig c, Tensor logits, Tensor labels, Tensor refLogps, Tensor groupIds, long[] groupSizes) {
    long pairs = groupIds.size(0);
    int groups = groupSizes.length;
    Sequences sequences = sequences(logits, labels);
    Tensor seqLogps = sequences.logps();
    Tensor tokenCounts = sequences.tokenCounts();

    Tensor ref = refLogps.to(ScalarType.Double);
    Tensor chosen = seqLogps.narrow(0, 0, pairs).sub(ref.narrow(0, 0, pairs));
    Tensor rejected = seqLogps.narrow(0, pairs, pairs).sub(ref.narrow(0, pairs, pairs));
    Tensor margin = chosen.sub(rejected);
    Tensor pairLoss;
    if (c.lossType() == LossType.DPO) {
      Tensor x = margin.mul(new Scalar(c.beta()));
      pairLoss = torch.log_sigmoid(x).mul(new Scalar(-(1 - c.labelSmoothing())))
          .sub(torch.log_sigmoid(x.neg()).mul(new Scalar(c.labelSmoothing())));
    } else {
      Tensor nw = c.ipoLengthNorm() ? tokenCounts.narrow(0, 0, pairs).clamp_min(new Scalar(1.0)) : ones(pairs);
      Tensor nl = c.ipoLengthNorm() ? tokenCounts.narrow(0, pairs, pairs).clamp_min(new Scalar(1.0)) : ones(pairs);
      pairLoss = chosen.div(nw).sub(rejected.div(nl)).sub(new Scalar(1 / (2 * c.beta()))).square();
    }

    Tensor ids = groupIds.to(ScalarType.Long);
    Tensor groupSum = zeros(groups).index_add(0, ids, pairLoss);
    Tensor groupCount = zeros(groups).index_add(0, ids, ones(pairs));
    Tensor present = groupCount.gt(new Scalar(0.0)).to(ScalarType.Double);
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
      normaliser = present.mul(Tensors.doubles(frequency, groups));
    }
    Tensor groupLoss = groupSum.mul(normaliser);
    Tensor adjusted = groupLoss;
    if (c.adjustment() != 0) {
      double[] bonus = new double[groups];
      for (int g = 0; g < groups; g++) {
        bonus[g] = c.adjustment() / Math.sqrt(groupSizes[g]);
      }
      adjusted = groupLoss.add(Tensors.doubles(bonus, groups));
    }
    return new Parts(seqLogps, tokenCounts, margin, pairLoss, groupLoss, adjusted, groupCount);
  }

  /**
   * The objective J: the mean pair loss for AVERAGE, otherwise {@code sum_g w_g L_g} with the weights held
   * constant (the robust update uses detached losses, so the weights carry no gradient).
   */
  static Tensor objective(LossConfig c, Parts p, double[] weights) {
    if (c.weighting() == Weighting.AVERAGE) {
      return p.pairLoss().mean();
    }
    return p.adjustedGroupLoss().mul(Tensors.doubles(weights, weights.length)).sum();
  }

  /**
   * The weights J uses after a training call: the exponentiated-gradient step
   * {@code alpha = softmax(logAlphaBefore + eta L_g)} mixed with uniform by chi (ROBUST), {@code ∝ 1/N_g}
   * (IMPORTANCE_SAMPLING), or the batch shares of the groups (AVERAGE).
   */
  static double[] expectedWeights(LossConfig c, Parts p, double[] logAlphaBefore, long[] groupSizes) {
    int groups = groupSizes.length;
    return switch (c.weighting()) {
      case ROBUST -> {
        Tensor alpha = torch.softmax(Tensors.doubles(logAlphaBefore, groups)
            .add(p.adjustedGroupLoss().detach().mul(new Scalar(c.eta()))), 0);
        yield Tensors.toDoubles(alpha.mul(new Scalar(c.chi())).add(new Scalar((1 - c.chi()) / groups)));
      }
      case IMPORTANCE_SAMPLING -> {
        Tensor inverse = HostTensors.longs(groupSizes, groups).to(ScalarType.Double).reciprocal();
        yield Tensors.toDoubles(inverse.div(inverse.sum()));
      }
      case AVERAGE -> Tensors.toDoubles(p.groupCount().div(new Scalar((double) p.margin().size(0))));
    };
  }

  private static Tensor zeros(long n) {
    return torch.zeros(new long[] {n}, new TensorOptions(ScalarType.Double));
  }

  private static Tensor ones(long n) {
    return torch.ones(new long[] {n}, new TensorOptions(ScalarType.Double));
  }
}
