package dev.grpo4j;

/**
 * The whole loss in plain double-precision Java with its own gradient: the oracle the native backends are
 * compared against. Written from the formulas in README.md, independently of the native code.
 */
final class ReferenceLoss {

  /** Loss configuration, as the builder takes it. */
  record Config(LossType lossType, Weighting weighting, GroupNormalization normalization, double beta,
                double labelSmoothing, boolean ipoLengthNorm, double eta, double chi, double adjustment, int groups,
                long[] groupSizes) {}

  /** Inputs as doubles (logits already rounded to their storage type). */
  record Input(int pairs, int seqLen, int vocab, double[] logits, long[] labels, double[] refLogps, int[] groupIds) {}

  /** Every output, in double. */
  record Output(double loss, double[] pairLoss, double[] margin, double[] chosenReward, double[] rejectedReward,
                double[] chosenLogp, double[] rejectedLogp, double[] groupLoss, double[] groupWeight,
                double[] rewardAccuracy, double[] logpAccuracy, double[] groupChosenReward,
                double[] groupRejectedReward, double[] groupMargin, int[] groupCount, double[] logAlpha,
                double[] grad) {}

  private ReferenceLoss() {}

  static double[] logSumExp(Input in) {
    int positions = 2 * in.pairs() * in.seqLen();
    double[] lse = new double[positions];
    for (int p = 0; p < positions; p++) {
      double max = Double.NEGATIVE_INFINITY;
      for (int v = 0; v < in.vocab(); v++) {
        max = Math.max(max, in.logits()[p * in.vocab() + v]);
      }
      double sum = 0;
      for (int v = 0; v < in.vocab(); v++) {
        sum += Math.exp(in.logits()[p * in.vocab() + v] - max);
      }
      lse[p] = max + Math.log(sum);
    }
    return lse;
  }

  static double softplus(double x) {
    return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
  }

  static double sigmoid(double x) {
    return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
  }

  /**
   * Forward (and, when {@code train}, weight update and gradient). If {@code fixedWeights} is non-null the
   * objective uses those weights instead of the robust/IS ones (finite differences hold them constant).
   */
  static Output compute(Config c, Input in, double[] logAlphaIn, boolean train, double[] fixedWeights) {
    int b = in.pairs();
    int k = c.groups();
    int rows = 2 * b;
    double[] lse = logSumExp(in);
    double[] s = new double[rows];
    int[] tokens = new int[rows];
    for (int r = 0; r < rows; r++) {
      for (int t = 0; t < in.seqLen(); t++) {
        int p = r * in.seqLen() + t;
        long label = in.labels()[p];
        if (label == TokenLogits.IGNORE_INDEX) {
          continue;
        }
        s[r] += in.logits()[p * in.vocab() + (int) label] - lse[p];
        tokens[r]++;
      }
    }
    double[] pairLoss = new double[b];
    double[] dChosen = new double[b];
    double[] dRejected = new double[b];
    double[] margin = new double[b];
    double[] chosenReward = new double[b];
    double[] rejectedReward = new double[b];
    for (int i = 0; i < b; i++) {
      double rw = s[i] - in.refLogps()[i];
      double rl = s[b + i] - in.refLogps()[b + i];
      margin[i] = rw - rl;
      chosenReward[i] = c.beta() * rw;
      rejectedReward[i] = c.beta() * rl;
      if (c.lossType() == LossType.IPO) {
        double nw = c.ipoLengthNorm() ? Math.max(tokens[i], 1) : 1;
        double nl = c.ipoLengthNorm() ? Math.max(tokens[b + i], 1) : 1;
        double d = rw / nw - rl / nl - 1 / (2 * c.beta());
        pairLoss[i] = d * d;
        dChosen[i] = 2 * d / nw;
        dRejected[i] = -2 * d / nl;
      } else {
        double x = c.beta() * margin[i];
        double eps = c.labelSmoothing();
        pairLoss[i] = (1 - eps) * softplus(-x) + eps * softplus(x);
        double dh = -c.beta() * (1 - eps) * sigmoid(-x) + c.beta() * eps * sigmoid(x);
        dChosen[i] = dh;
        dRejected[i] = -dh;
      }
    }
    int[] count = new int[k];
    double[] sum = new double[k];
    for (int i = 0; i < b; i++) {
      count[in.groupIds()[i]]++;
      sum[in.groupIds()[i]] += pairLoss[i];
    }
    long total = 0;
    if (c.groupSizes() != null) {
      for (long n : c.groupSizes()) {
        total += n;
      }
    }
    double[] norm = new double[k];
    double[] groupLoss = new double[k];
    double[] adjusted = new double[k];
    for (int g = 0; g < k; g++) {
      if (count[g] > 0) {
        norm[g] = c.normalization() == GroupNormalization.DATASET_FREQUENCY
            ? (double) total / ((double) c.groupSizes()[g] * b) : 1.0 / count[g];
      }
      groupLoss[g] = norm[g] * sum[g];
      adjusted[g] = groupLoss[g] + (c.adjustment() != 0 ? c.adjustment() / Math.sqrt(c.groupSizes()[g]) : 0);
    }
    double[] logAlpha = logAlphaIn.clone();
    double[] weight = new double[k];
    switch (c.weighting()) {
      case ROBUST -> {
        if (train) {
          double max = Double.NEGATIVE_INFINITY;
          for (int g = 0; g < k; g++) {
            logAlpha[g] += c.eta() * adjusted[g];
            max = Math.max(max, logAlpha[g]);
          }
          double z = 0;
          for (int g = 0; g < k; g++) {
            z += Math.exp(logAlpha[g] - max);
          }
          double logZ = max + Math.log(z);
          for (int g = 0; g < k; g++) {
            logAlpha[g] -= logZ;
          }
        }
        for (int g = 0; g < k; g++) {
          weight[g] = (1 - c.chi()) / k + c.chi() * Math.exp(logAlpha[g]);
        }
      }
      case IMPORTANCE_SAMPLING -> {
        double inverse = 0;
        for (int g = 0; g < k; g++) {
          inverse += 1.0 / c.groupSizes()[g];
        }
        for (int g = 0; g < k; g++) {
          weight[g] = 1.0 / c.groupSizes()[g] / inverse;
        }
      }
      case AVERAGE -> {
        for (int g = 0; g < k; g++) {
          weight[g] = (double) count[g] / b;
        }
      }
    }
    double[] used = fixedWeights != null ? fixedWeights : weight;
    double objective = 0;
    double[] dLoss = new double[b];
    if (c.weighting() == Weighting.AVERAGE && fixedWeights == null) {
      for (int i = 0; i < b; i++) {
        objective += pairLoss[i] / b;
        dLoss[i] = 1.0 / b;
      }
    } else {
      for (int g = 0; g < k; g++) {
        objective += used[g] * adjusted[g];
      }
      for (int i = 0; i < b; i++) {
        dLoss[i] = used[in.groupIds()[i]] * norm[in.groupIds()[i]];
      }
    }
    double[] rewardAcc = new double[k];
    double[] logpAcc = new double[k];
    double[] chosenMean = new double[k];
    double[] rejectedMean = new double[k];
    double[] marginMean = new double[k];
    for (int i = 0; i < b; i++) {
      int g = in.groupIds()[i];
      rewardAcc[g] += margin[i] > 0 ? 1 : 0;
      logpAcc[g] += s[i] > s[b + i] ? 1 : 0;
      chosenMean[g] += chosenReward[i];
      rejectedMean[g] += rejectedReward[i];
      marginMean[g] += margin[i];
    }
    for (int g = 0; g < k; g++) {
      double n = Math.max(count[g], 1);
      rewardAcc[g] /= n;
      logpAcc[g] /= n;
      chosenMean[g] /= n;
      rejectedMean[g] /= n;
      marginMean[g] /= n;
    }
    double[] grad = null;
    if (train) {
      grad = new double[in.logits().length];
      for (int r = 0; r < rows; r++) {
        double coef = r < b ? dLoss[r] * dChosen[r] : dLoss[r - b] * dRejected[r - b];
        for (int t = 0; t < in.seqLen(); t++) {
          int p = r * in.seqLen() + t;
          long label = in.labels()[p];
          if (label == TokenLogits.IGNORE_INDEX) {
            continue;
          }
          for (int v = 0; v < in.vocab(); v++) {
            int e = p * in.vocab() + v;
            grad[e] = coef * ((v == label ? 1 : 0) - Math.exp(in.logits()[e] - lse[p]));
          }
        }
      }
    }
    double[] chosenLogp = java.util.Arrays.copyOfRange(s, 0, b);
    double[] rejectedLogp = java.util.Arrays.copyOfRange(s, b, rows);
    return new Output(objective, pairLoss, margin, chosenReward, rejectedReward, chosenLogp, rejectedLogp, groupLoss,
        weight, rewardAcc, logpAcc, chosenMean, rejectedMean, marginMean, count, logAlpha, grad);
  }
}
