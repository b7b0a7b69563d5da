package dev.grpo4j.synthetic;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupNormalization;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LossResult;
import dev.grpo4j.Weighting;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Trains the log-linear policy {@code pi_theta(a|s,g) ∝ exp(theta . phi(s,a,g))} of the synthetic experiment with
 * full-batch gradient steps in which the fused loss does all the preference-optimisation work: every step writes
 * the logits of the 2B rows (T = 1, V = 8) off-heap, calls {@link GroupRobustLoss#forwardBackward}, which computes
 * the per-pair losses, the group losses, the group-weight update and {@code dJ/dlogits}, and then applies
 * {@code theta -= lr * sum_r sum_a dz[r][a] phi(s_r, a)}. The reference policy is uniform.
 *
 * <p>GR-IPO's closed form uses the same call for the losses and the weight update, then sets theta to the minimiser
 * of the weighted IPO objective with the updated weights ({@link WeightedLeastSquares}).
 *
 * <p>Group losses are {@link GroupNormalization#BATCH_MEAN}: with the full batch every step, each group's loss is its
 * mean pair loss, as in the paper's bandit code. One instance per run; runs are independent and may go on in
 * parallel threads.
 */
public final class LogLinearTrainer {
  /**
   * Optimisation settings of a run.
   *
   * @param learningRate gradient step size (ignored by the closed form)
   * @param beta the loss's beta
   * @param eta the group-weight step size (ROBUST methods)
   * @param iterations full-batch steps
   * @param logEvery evaluate every this many steps (and at step 0 and the last step)
   * @param ridge the closed form's ridge {@code lambda} (0 = exact minimiser)
   * @param importanceSampling what IS-DPO / IS-IPO reweight
   */
  public record Hyper(double learningRate, double beta, double eta, int iterations, int logEvery, double ridge,
                      ImportanceSampling importanceSampling) {
    public Hyper {
      java.util.Objects.requireNonNull(importanceSampling, "importanceSampling");
      if (!(learningRate > 0) || !(beta > 0) || !(eta >= 0) || !(ridge >= 0)) {
        throw new IllegalArgumentException("need learningRate > 0, beta > 0, eta >= 0 and ridge >= 0");
      }
      if (iterations < 1 || logEvery < 1) {
        throw new IllegalArgumentException("iterations and logEvery must be >= 1");
      }
    }
  }

  /**
   * Metrics at one logged iteration, all from {@link GroupRobustLoss#evaluate} at the current theta (no weight
   * update) except the reward errors.
   *
   * @param iteration steps taken so far
   * @param valGroupLoss mean loss of each group on the validation pairs
   * @param trainGroupLoss mean loss of each group on the training pairs
   * @param rewardError {@code (r*_g - r_g(pi)) / r*_g} per group on the test states
   * @param groupWeights the loss's group weights {@code w_g} (ROBUST: current weights; IS: fixed; AVERAGE: share of
   *     the training pairs)
   * @param theta the policy parameter
   */
  public record Point(int iteration, double[] valGroupLoss, double[] trainGroupLoss, double[] rewardError,
                      double[] groupWeights, double[] theta) {
    /** Worst-group validation loss. */
    public double worstValLoss() {
      return max(valGroupLoss);
    }

    /** Largest reward error over the groups. */
    public double maxRewardError() {
      return max(rewardError);
    }

    private static double max(double[] values) {
      double m = Double.NEGATIVE_INFINITY;
      for (double v : values) {
        m = Math.max(m, v);
      }
      return m;
    }
  }

  /** A finished run: its curve, iteration 0 first, the last iteration last. */
  public record Run(SyntheticMethod method, long seed, List<Point> curve) {
    public Point last() {
      return curve.getLast();
    }
  }

  private LogLinearTrainer() {}

  /** The loss configuration of {@code method}: CPU backend on the calling thread. */
  public static GroupRobustLoss loss(SyntheticMethod method, Hyper hyper, long[] trainGroupCounts) {
    long[] sizes = trainGroupCounts;
    if (perPairImportanceSampling(method, hyper)) {
      sizes = new long[trainGroupCounts.length];
      java.util.Arrays.fill(sizes, 1);   // equal weights on the group means; the step carries the scale
    }
    return method.configure(GroupRobustLoss.builder())
        .beta(hyper.beta())
        .weighting(method.weighting())
        .eta(hyper.eta())
        .groupNormalization(GroupNormalization.BATCH_MEAN)
        .groupSizes(sizes)
        .backend(Backend.CPU)
        .threads(1)
        .build();
  }

  /**
   * The factor on the gradient step: {@code K / (B sum_g 1/N_g)} for IS with {@link ImportanceSampling#PER_PAIR},
   * otherwise 1.
   */
  static double stepScale(SyntheticMethod method, Hyper hyper, long[] trainGroupCounts) {
    if (!perPairImportanceSampling(method, hyper)) {
      return 1;
    }
    double inverse = 0;
    long total = 0;
    for (long n : trainGroupCounts) {
      inverse += 1.0 / n;
      total += n;
    }
    return trainGroupCounts.length / (total * inverse);
  }

  private static boolean perPairImportanceSampling(SyntheticMethod method, Hyper hyper) {
    return method.weighting() == Weighting.IMPORTANCE_SAMPLING
        && hyper.importanceSampling() == ImportanceSampling.PER_PAIR;
  }

  /** Trains {@code method} on {@code seed}'s data from its {@code theta0}. */
  public static Run run(SeedData seed, SyntheticMethod method, Hyper hyper) {
    double[] theta = seed.data().theta0();
    double step = hyper.learningRate() * stepScale(method, hyper, seed.trainGroupCounts());
    List<Point> curve = new ArrayList<>(hyper.iterations() / hyper.logEvery() + 2);
    try (Arena arena = Arena.ofConfined();
         GroupRobustLoss loss = loss(method, hyper, seed.trainGroupCounts())) {
      KernelBatch train = new KernelBatch(seed.train, arena);
      KernelBatch validation = new KernelBatch(seed.validation, arena);
      MemorySegment grad = arena.allocate(train.logitsBytes(), 4);
      float[] dLogits = new float[train.logitsCount()];
      double[] dTheta = new double[theta.length];
      curve.add(evaluate(0, theta, seed, loss, train, validation));
      for (int t = 1; t <= hyper.iterations(); t++) {
        train.setLogits(theta);
        LossResult r;
        try {
          r = loss.forwardBackward(train.batch, grad);
        } catch (IllegalArgumentException e) {
          throw new IllegalStateException(method.label() + " seed " + seed.seed() + " diverged at step " + t
              + " (theta " + java.util.Arrays.toString(theta) + "): " + e.getMessage(), e);
        }
        if (method.closedForm()) {
          theta = WeightedLeastSquares.solve(seed.train.diff, seed.train.groups, pairWeights(r), hyper.ridge(),
              1 / (2 * hyper.beta()));
        } else {
          MemorySegment.copy(grad, JAVA_FLOAT, 0, dLogits, 0, dLogits.length);
          seed.train.thetaGradient(dLogits, dTheta);
          for (int k = 0; k < theta.length; k++) {
            theta[k] -= step * dTheta[k];
          }
        }
        if (t % hyper.logEvery() == 0 || t == hyper.iterations()) {
          curve.add(evaluate(t, theta, seed, loss, train, validation));
        }
      }
    }
    return new Run(method, seed.seed(), List.copyOf(curve));
  }

  /**
   * Per-group weight of one pair in the objective, {@code dJ/dl_i = w_g / n_g} under BATCH_MEAN: the weights of the
   * weighted least squares whose minimiser is the fixed point of the gradient step.
   */
  static double[] pairWeights(LossResult r) {
    float[] w = r.objectiveWeights();
    int[] n = r.groupCounts();
    double[] out = new double[w.length];
    for (int g = 0; g < w.length; g++) {
      out[g] = n[g] == 0 ? 0 : w[g] / (double) n[g];
    }
    return out;
  }

  private static Point evaluate(int iteration, double[] theta, SeedData seed, GroupRobustLoss loss, KernelBatch train,
                                KernelBatch validation) {
    train.setLogits(theta);
    LossResult onTrain = loss.evaluate(train.batch);
    validation.setLogits(theta);
    LossResult onValidation = loss.evaluate(validation.batch);
    return new Point(iteration, toDouble(onValidation.groupLosses()), toDouble(onTrain.groupLosses()),
        seed.rewards.rewardErrors(theta), toDouble(onTrain.objectiveWeights()), theta.clone());
  }

  private static double[] toDouble(float[] values) {
    double[] out = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = values[i];
    }
    return out;
  }
}
