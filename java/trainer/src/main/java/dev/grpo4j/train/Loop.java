package dev.grpo4j.train;

import dev.grpo4j.NonFiniteInputException;
import dev.grpo4j.dist.DataParallel;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.platform.LibTorch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.OptimizerParamGroup;
import org.bytedeco.pytorch.OptimizerParamGroupVector;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * The optimisation loop of every stage of a run (the SFT stage, preference training): per step the learning rate,
 * zero-grad, the micro-batch rounds, the gradients summed over the ranks, clipping and the optimizer step. A stage
 * says only what one micro-batch computes ({@link Step}).
 *
 * <p>A step of {@code --batch-size B} x {@code --grad-accumulation A} pairs on {@code W} ranks is {@code A} rounds
 * of {@code W} micro-batches of {@code B / W} pairs, drawn in the order m = 0, 1, ...; micro-batch
 * {@code m = round * W + r} is rank r's. A single process is rank 0 of 1, so one process and several ranks run the
 * same code, and W ranks with {@code B} equal one process with {@code B / W} and {@code W x A} bit for bit.
 */
final class Loop {
  static {
    LibTorch.load();
  }

  /** What a stage computes in one step; the loop owns the rest. */
  interface Step {
    /** Before the step's rounds, with all of its micro-batches (micro-batch m is {@code microBatches[m]}). */
    default void begin(int step, int[][] microBatches) {}

    /**
     * One round: this rank's forward and backward of micro-batch {@code first + rank}, added to the parameters'
     * gradients. {@code round[r]} is rank r's micro-batch, micro-batch {@code first + r} of the step.
     */
    void round(int step, int first, int[][] round);

    /** After the gradients are summed over the ranks, before they are clipped. */
    default void end(int step) {}

    /** The seed of libtorch's generator (dropout) for micro-batch {@code m} of {@code step}. */
    long dropoutSeed(int step, int m);
  }

  /** A {@code maxGradNorm} for a stage that neither clips nor logs the norm: no pass over the gradients for it. */
  static final double UNCLIPPED = Double.NaN;

  private final DataParallel dp;
  private final TransformerLm policy;
  private final Optimizer optimizer;
  private final TensorVector parameters;
  private final PairSampler sampler;
  private final int rankPairs;
  private final int rounds;
  private final double maxGradNorm;
  private final String learningRateOption;

  /**
   * @param shape the micro-batch size (of all ranks) and the rounds per step
   * @param sampler draws the step's pairs, {@code batchSize / W} per micro-batch
   * @param maxGradNorm the norm the gradient is clipped to; 0 or less: not clipped (its norm is still measured);
   *     {@link #UNCLIPPED}: neither
   * @param learningRateOption the option a user lowers when the stage diverges, for the message
   */
  Loop(DataParallel dp, TransformerLm policy, Optimizer optimizer, LoopSpec shape, PairSampler sampler,
       double maxGradNorm, String learningRateOption) {
    this.dp = dp;
    this.policy = policy;
    this.optimizer = optimizer;
    this.parameters = policy.parameters();
    this.sampler = sampler;
    this.rankPairs = shape.batchSize() / dp.worldSize();
    this.rounds = shape.gradientAccumulation();
    this.maxGradNorm = maxGradNorm;
    this.learningRateOption = learningRateOption;
  }

  /**
   * Runs step {@code step} at learning rate {@code lr}.
   *
   * @return the norm of the summed gradient before clipping; NaN for a loop made {@link #UNCLIPPED}
   */
  double step(int step, double lr, Step work) {
    setLearningRate(optimizer, lr);
    policy.train(true);
    optimizer.zero_grad();
    int ranks = dp.worldSize();
    int[][] microBatches = new int[rounds * ranks][];
    for (int m = 0; m < microBatches.length; m++) {
      microBatches[m] = sampler.next(rankPairs);
    }
    work.begin(step, microBatches);
    try {
      for (int first = 0; first < microBatches.length; first += ranks) {
        // Seeded per micro-batch, micro-batch m draws the same dropout masks whether the run got there in one go,
        // through a resume, or on another rank.
        torch.manual_seed(work.dropoutSeed(step, first + dp.rank()));
        work.round(step, first, Arrays.copyOfRange(microBatches, first, first + ranks));
      }
    } catch (NonFiniteInputException e) {
      throw new IllegalArgumentException(String.format(Locale.ROOT, "the model produced NaN or infinite logits at "
          + "step %d (learning rate %.3g): training diverged. Lower %s, keep --max-grad-norm on (e.g. 1.0), or "
          + "resume from an earlier checkpoint. Kernel: %s", step, lr, learningRateOption, e.getMessage()), e);
    }
    dp.allReduceGradients(parameters);
    work.end(step);
    double gradNorm = Double.isNaN(maxGradNorm) ? Double.NaN
        : torch.clip_grad_norm_(parameters, maxGradNorm > 0 ? maxGradNorm : Double.POSITIVE_INFINITY);
    optimizer.step();
    return gradNorm;
  }

  /** AdamW over the trainable parameters, with libtorch's defaults except the weight decay (libtorch: 0.01). */
  /**
   * AdamW over the policy's trainable parameters at {@code lr} with {@code spec}'s weight decay. Where the spec
   * exempts them, biases and norm weights ({@link #exemptFromDecay}) form a second group without decay, as
   * transformers' {@code Trainer} builds it; without decay, or decaying everything, there is one group.
   */
  static AdamW adamW(TransformerLm policy, double lr, OptimizerSpec spec) {
    AdamWOptions options = new AdamWOptions(lr);
    options.weight_decay().put(spec.weightDecay());
    if (spec.weightDecay() == 0 || !spec.exemptNormsAndBiases()) {
      return new AdamW(policy.parameters(), options);
    }
    List<Tensor> decayed = new ArrayList<>();
    List<Tensor> exempt = new ArrayList<>();
    policy.allParameters().forEach((name, parameter) -> {
      if (parameter.requires_grad()) {
        (exemptFromDecay(name) ? exempt : decayed).add(parameter);
      }
    });
    AdamW optimizer = new AdamW(new TensorVector(decayed.toArray(new Tensor[0])), options);
    if (!exempt.isEmpty()) {
      optimizer.add_param_group(new OptimizerParamGroup(new TensorVector(exempt.toArray(new Tensor[0]))));
      OptimizerParamGroupVector groups = optimizer.param_groups();
      new AdamWOptions(groups.get(groups.size() - 1).options()).weight_decay().put(0.0);
    }
    return optimizer;
  }

  /**
   * Whether transformers' {@code Trainer} spares the parameter of this Hugging Face name from weight decay: biases
   * and the weights of norm layers, by the name patterns of its {@code get_decay_parameter_names}.
   */
  static boolean exemptFromDecay(String name) {
    return DECAY_EXEMPT.matcher(name.toLowerCase(Locale.ROOT)).find();
  }

  private static final Pattern DECAY_EXEMPT =
      Pattern.compile("bias|layernorm|rmsnorm|(?:^|\\.)norm(?:$|\\.)|_norm(?:$|\\.)");

  private static void setLearningRate(Optimizer optimizer, double lr) {
    OptimizerParamGroupVector groups = optimizer.param_groups();
    for (long i = 0; i < groups.size(); i++) {
      groups.get(i).options().set_lr(lr);
    }
  }
}
