package dev.grpo4j.torch;

import dev.grpo4j.GroupStep;
import dev.grpo4j.LossResult;
import dev.grpo4j.LossStatistics;
import dev.grpo4j.SequenceLogProbs;
import dev.grpo4j.platform.LibTorch;
import java.util.Objects;
import java.util.function.Function;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * Preference optimisation of a {@link CausalLm} with the fused loss: per step the policy forward, one
 * {@link TorchPreferenceLoss} call (objective, group-weight update, {@code dJ/dlogits}), backpropagation from that
 * gradient and an optimizer step. The method (DPO, IPO, their group-robust and importance-sampled forms) is the
 * loss's configuration; this class is the same for all of them.
 *
 * <p>Each step and each evaluation chunk runs in its own {@code PointerScope}, so the native memory of its tensors
 * is freed when it ends rather than when the garbage collector gets to it.
 *
 * <p>The loss gradient is written over the logits (no second {@code [2B, T, V]} buffer). That is sound when autograd
 * did not save the logits for the model's own backward, as with a linear LM head; a model that transforms its
 * logits after the head (e.g. soft-capping) makes libtorch's backward fail with an in-place modification error
 * rather than compute a wrong gradient.
 */
@SuppressWarnings("try") // PointerScope and NoGradGuard act by existing; the bodies never name them
public final class PreferenceTrainer {
  static {
    LibTorch.load();
  }

  private final CausalLm model;
  private final Optimizer optimizer;
  private final TorchPreferenceLoss loss;
  private final FusedLmHead fusedHead;

  /**
   * @param model the policy, trained in place
   * @param optimizer an optimizer over the model's parameters
   * @param loss the preference loss; its group-weight state advances with every {@link #step}
   */
  public PreferenceTrainer(CausalLm model, Optimizer optimizer, TorchPreferenceLoss loss) {
    this(model, optimizer, loss, null);
  }

  /**
   * As {@link #PreferenceTrainer(CausalLm, Optimizer, TorchPreferenceLoss)}; with a {@code fusedHead} the loss is
   * taken from the model's hidden states and head ({@link CausalLm#hiddenStates}, {@link CausalLm#head}) and the
   * logits never exist whole. Null: the model's logits and the fused logits loss.
   */
  public PreferenceTrainer(CausalLm model, Optimizer optimizer, TorchPreferenceLoss loss, FusedLmHead fusedHead) {
    this.model = Objects.requireNonNull(model, "model");
    this.optimizer = Objects.requireNonNull(optimizer, "optimizer");
    this.loss = Objects.requireNonNull(loss, "loss");
    if (fusedHead != null && model.head() == null) {
      throw new IllegalArgumentException("the model has no separable LM head: train it without the fused head");
    }
    this.fusedHead = fusedHead;
  }

  /** One optimisation step on the given pairs of {@code data} (which must carry reference log-probs). */
  public LossResult step(EncodedPairs data, int[] pairs) {
    optimizer.zero_grad();
    LossResult r = accumulate(data, pairs, 1.0);
    optimizer.step();
    return r;
  }

  /**
   * The forward and backward half of a step: the fused loss on {@code pairs} (which advances the group weights
   * once) and backpropagation of {@code scale * J}, added to the parameters' gradients. Gradient accumulation
   * calls it once per micro-batch with {@code scale = 1 / micro-batches} and then steps the optimizer itself.
   */
  public LossResult accumulate(EncodedPairs data, int[] pairs, double scale) {
    return accumulate(data, pairs, scale, statistics -> loss.loss().groupStep(statistics.groupStatistics(), true));
  }

  /**
   * As {@link #accumulate(EncodedPairs, int[], double)}, with the group step left to {@code groupStep} (see
   * {@link TorchPreferenceLoss#forwardBackward(Tensor, Tensor, Tensor, Tensor, Tensor, Function)}).
   */
  public LossResult accumulate(EncodedPairs data, int[] pairs, double scale,
                               Function<LossStatistics, GroupStep> groupStep) {
    if (fusedHead != null) {
      return accumulateFused(data, pairs, scale, groupStep);
    }
    try (PointerScope scope = new PointerScope()) {
      EncodedPairs.Batch batch = data.batch(pairs);
      Tensor logits = model.forward(batch.inputIds());
      Tensor grad = logits.detach();
      LossResult result = loss.forwardBackward(logits, batch.labels(), batch.refLogps(), batch.groupIds(), grad,
          groupStep);
      if (scale != 1.0) {
        grad.mul_(new Scalar(scale));
      }
      logits.backward(grad, new BoolOptional(), false, new TensorArrayRefOptional());
      return result;
    }
  }

  private LossResult accumulateFused(EncodedPairs data, int[] pairs, double scale,
                                     Function<LossStatistics, GroupStep> step) {
    try (PointerScope scope = new PointerScope()) {
      // The fused head takes the reference log-probs and group ids as arrays: they never become tensors.
      Tensor hidden = model.hiddenStates(data.inputIds(pairs));
      return fusedHead.forwardBackward(loss.loss(), hidden, model.head(), data.labels(pairs),
          data.referenceLogps(pairs), data.groups(pairs), scale, step);
    }
  }

  /**
   * Per-pair results of the current policy over every pair of {@code data}, in chunks of {@code chunkPairs}
   * pairs; no gradient, no group-weight update.
   *
   * @param pairLosses loss of each pair
   * @param margins {@code h = (s_w - ref_w) - (s_l - ref_l)} of each pair
   * @param chosenRewards {@code beta (s_w - ref_w)} of each pair
   * @param rejectedRewards {@code beta (s_l - ref_l)} of each pair
   * @param chosenLogps policy log-prob of each chosen response
   * @param rejectedLogps policy log-prob of each rejected response
   * @param groups group of each pair
   */
  public record PairResults(float[] pairLosses, float[] margins, float[] chosenRewards, float[] rejectedRewards, float[] chosenLogps,
                            float[] rejectedLogps, int[] groups) {}

  /** Every pair of {@code data} under the current policy, in chunks of {@code chunkPairs} pairs. */
  public PairResults evaluatePairs(EncodedPairs data, int chunkPairs) {
    return evaluatePairs(model, loss, fusedHead, data, 0, data.size(), chunkPairs);
  }

  /**
   * Every pair of {@code data} under {@code model} (with reference log-probs attached to {@code data}), in chunks
   * of {@code chunkPairs} pairs, through {@code loss}'s evaluation call: no gradient, no group-weight update.
   */
  public static PairResults evaluatePairs(CausalLm model, TorchPreferenceLoss loss, EncodedPairs data,
                                          int chunkPairs) {
    return evaluatePairs(model, loss, null, data, 0, data.size(), chunkPairs);
  }

  /** As {@link #evaluatePairs(CausalLm, TorchPreferenceLoss, EncodedPairs, int)}, through {@code fusedHead} if not null. */
  public static PairResults evaluatePairs(CausalLm model, TorchPreferenceLoss loss, FusedLmHead fusedHead,
                                          EncodedPairs data, int chunkPairs) {
    return evaluatePairs(model, loss, fusedHead, data, 0, data.size(), chunkPairs);
  }

  /** As {@link #evaluatePairs(EncodedPairs, int)} for the pairs {@code [from, to)} only, in chunks from {@code from}. */
  public PairResults evaluatePairs(EncodedPairs data, int from, int to, int chunkPairs) {
    return evaluatePairs(model, loss, fusedHead, data, from, to, chunkPairs);
  }

  private static PairResults evaluatePairs(CausalLm model, TorchPreferenceLoss loss, FusedLmHead fusedHead,
                                           EncodedPairs data, int from, int to, int chunkPairs) {
    int n = to - from;
    PairResults out = new PairResults(new float[n], new float[n], new float[n], new float[n], new float[n],
        new float[n], new int[n]);
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (int start = from; start < to; start += chunkPairs) {
        int[] pairs = range(start, Math.min(to, start + chunkPairs));
        int at = start - from;
        try (PointerScope scope = new PointerScope()) {
          LossResult r;
          if (fusedHead != null) {
            r = fusedHead.evaluate(loss.loss(), model.hiddenStates(data.inputIds(pairs)), model.head(),
                data.labels(pairs), data.referenceLogps(pairs), data.groups(pairs));
          } else {
            EncodedPairs.Batch batch = data.batch(pairs);
            r = loss.evaluate(model.forward(batch.inputIds()), batch.labels(), batch.refLogps(), batch.groupIds());
          }
          System.arraycopy(r.pairLosses(), 0, out.pairLosses(), at, pairs.length);
          System.arraycopy(r.margins(), 0, out.margins(), at, pairs.length);
          System.arraycopy(r.chosenRewards(), 0, out.chosenRewards(), at, pairs.length);
          System.arraycopy(r.rejectedRewards(), 0, out.rejectedRewards(), at, pairs.length);
          System.arraycopy(r.chosenLogps(), 0, out.chosenLogps(), at, pairs.length);
          System.arraycopy(r.rejectedLogps(), 0, out.rejectedLogps(), at, pairs.length);
        }
        for (int i : pairs) {
          out.groups()[i - from] = data.group(i);
        }
      }
    }
    return out;
  }

  /**
   * {@code data} with the sequence log-probs of {@code reference} attached, computed once in chunks of
   * {@code chunkPairs} pairs: the reference model is frozen, so its log-probs are a property of the data.
   */
  public static EncodedPairs withReference(CausalLm reference, EncodedPairs data, TorchPreferenceLoss loss,
                                           int chunkPairs) {
    int n = data.size();
    float[] chosen = new float[n];
    float[] rejected = new float[n];
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (int start = 0; start < n; start += chunkPairs) {
        int[] pairs = range(start, Math.min(n, start + chunkPairs));
        try (PointerScope scope = new PointerScope()) {
          Tensor logits = reference.forward(data.inputIds(pairs));
          SequenceLogProbs logps = loss.sequenceLogProbs(logits, data.labels(pairs));
          float[] values = logps.logProbs();
          System.arraycopy(values, 0, chosen, start, pairs.length);
          System.arraycopy(values, pairs.length, rejected, start, pairs.length);
        }
      }
    }
    return data.withReference(chosen, rejected);
  }

  /**
   * One supervised fine-tuning step on the chosen responses of {@code pairs} (mean next-token cross-entropy over
   * the response positions), the usual stage before preference optimisation.
   *
   * @return the step's loss
   */
  public static double supervisedStep(CausalLm model, Optimizer optimizer, EncodedPairs data, int[] pairs) {
    return supervisedStep(model, optimizer, data, pairs, null);
  }

  /**
   * As {@link #supervisedStep(CausalLm, Optimizer, EncodedPairs, int[])}; with a {@code fusedHead} the loss is taken
   * from the hidden states and the logits never exist whole ({@link FusedLmHead#crossEntropy}).
   */
  public static double supervisedStep(CausalLm model, Optimizer optimizer, EncodedPairs data, int[] pairs,
                                      FusedLmHead fusedHead) {
    optimizer.zero_grad();
    double nll = supervisedAccumulate(model, data, pairs, 1.0, fusedHead);
    optimizer.step();
    return nll;
  }

  /**
   * Adds {@code scale} times the gradient of the mean next-token cross-entropy over the response positions of
   * {@code pairs}' chosen rows to the parameters' gradients, as one micro-batch of a supervised step. To make a step
   * of several micro-batches (or ranks) the mean over all their positions, give each the scale
   * {@code positions / totalPositions} ({@link EncodedPairs#chosenPositions}).
   *
   * @return the micro-batch's own mean; NaN, and no gradient, when it has no response position
   */
  public static double supervisedAccumulate(CausalLm model, EncodedPairs data, int[] pairs, double scale,
                                            FusedLmHead fusedHead) {
    if (data.chosenPositions(pairs) == 0) {
      return Double.NaN;
    }
    try (PointerScope scope = new PointerScope()) {
      if (fusedHead != null) {
        return fusedHead.crossEntropy(model.hiddenStates(data.chosenInputIds(pairs)), model.head(),
            data.chosenLabels(pairs), scale);
      }
      Tensor logits = model.forward(data.chosenInputIds(pairs));
      Tensor labels = data.chosenLabels(pairs);
      // cross_entropy skips label -100 (its default ignore_index), the same mask the preference loss uses.
      Tensor nll = torch.cross_entropy(logits.view(-1, logits.size(2)), labels.view(-1));
      (scale == 1.0 ? nll : nll.mul(new Scalar(scale))).backward();
      return nll.item_float();
    }
  }

  private static int[] range(int from, int to) {
    int[] out = new int[to - from];
    for (int i = 0; i < out.length; i++) {
      out[i] = from + i;
    }
    return out;
  }
}
