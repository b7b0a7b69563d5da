package dev.grpo4j;

import dev.grpo4j.ffm.LossKernel;
import dev.grpo4j.ffm.TokenKernels;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The fused group-robust preference loss (GR-DPO / GR-IPO, Ramesh et al. 2024), and the baselines the same
 * kernel expresses (plain DPO / IPO, importance-sampled IS-DPO / IS-IPO); any pair loss of the native table
 * ({@link PairLoss}: TRL's losses by name, SimPO) or a weighted mixture of them takes DPO's place under each weighting.
 *
 * <p>One {@link #forwardBackward} call reads the policy logits once to gather sequence log-probs, computes the
 * per-pair loss and the per-group losses, updates the group weights (ROBUST), and writes {@code dJ/dlogits}
 * into a gradient buffer (which may be the logits buffer itself). {@link #evaluate} computes the same
 * outputs without gradient and without touching the weights.
 *
 * <pre>{@code
 * try (GroupRobustLoss loss = GroupRobustLoss.builder()
 *     .lossType(LossType.DPO).beta(0.1)
 *     .groups(3).eta(0.5)
 *     .build()) {
 *   LossResult r = loss.forwardBackward(batch, gradSegment);
 *   System.out.println(r.loss() + " worst group " + r.worstGroupLoss());
 * }
 * }</pre>
 *
 * <p>Thread safety: an instance may be shared between threads; its calls are serialised, because each
 * training call reads and replaces the group-weight state. Use one instance per independent state.
 *
 * <p>Every segment is checked before the native call (see {@link #forwardBackward}); two things no check can
 * catch are the caller's to avoid: closing a shared arena from another thread while a call that uses its segments
 * runs, and shrinking a memory-mapped file under a mapping the call reads (the kernel reads raw addresses; either
 * ends the process as any native code would).
 */
public final class GroupRobustLoss implements AutoCloseable {
  private final List<LossTerm> losses;
  private final Weighting weighting;
  private final GroupNormalization normalization;
  private final Backend backend;
  private final int groups;
  private final long[] groupSizes;
  private final LossKernel kernel;
  private double[] logAlpha;
  private long steps;
  private boolean closed;

  private GroupRobustLoss(Builder b) {
    this.losses = b.losses;
    this.weighting = b.weighting;
    this.normalization = b.normalization;
    this.backend = b.backend;
    this.groups = b.groups;
    this.groupSizes = b.groupSizes == null ? new long[b.groups] : b.groupSizes.clone();
    this.logAlpha = GroupWeightState.uniform(groups).logAlpha();
    LossKernel.Options options = new LossKernel.Options(b.beta, b.labelSmoothing, b.eta, b.chi, b.adjustment,
        losses.stream().mapToInt(t -> t.loss().abiCode()).toArray(),
        losses.stream().mapToDouble(LossTerm::weight).toArray(), weighting.abiCode(), normalization.abiCode(),
        b.ipoLengthNormalization, b.fDivergence.abiCode(), b.alphaDivergence, b.discopopTau, b.simpoGamma);
    this.kernel = new LossKernel(backend.abiCode(), b.threads, b.cudaStream, groups, groupSizes, options);
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Training call: objective, group-weight update (ROBUST) and the gradient {@code dJ/dlogits}, written to
   * {@code grad} in the logits' element type. {@code grad} may be {@code batch.tokens().logits()} itself, and must
   * not overlap any other segment of the batch.
   *
   * <p>The kernel checks the logits at labelled positions only: NaN or infinity there raises
   * {@link NonFiniteInputException}; a masked position may hold anything (it is never read for the loss and gets a
   * zero gradient). A call that raises changes nothing: the group weights stay and {@code grad} is not written
   * (except on CUDA, where input problems found on the device leave {@code grad} undefined).
   *
   * @throws IllegalArgumentException naming the argument, for any segment, label, group id or value the call cannot
   *     take, and when f16 logits' gradient would reach f16's largest value (65504)
   */
  public synchronized LossResult forwardBackward(PreferenceBatch batch, MemorySegment grad) {
    ensureOpen();
    Objects.requireNonNull(batch, "batch");
    Segments.requirePresent(grad, "grad");
    batch.validate(backend, grad);
    TokenLogits tokens = batch.tokens();
    double[] next = logAlpha.clone();
    LossResult result = new LossResult(kernel.run(true, kernelTokens(tokens), batch.refLogps(), batch.groupIds(),
        grad, next));
    logAlpha = next;
    steps++;
    return result;
  }

  /**
   * Training call of one data-parallel rank: as {@link #forwardBackward(PreferenceBatch, MemorySegment)}, with this
   * rank's group statistics combined by {@code sync} (an all-reduce over the ranks) before the group step. Every
   * rank's weights then move alike, and the objective, group losses and weights are those of all ranks' pairs as
   * one batch; the per-pair values and the gradient are this rank's. Composed of {@link #statistics},
   * {@link #groupStep} and {@link #gradient}; with {@link GroupSync#LOCAL} it returns what
   * {@link #forwardBackward(PreferenceBatch, MemorySegment)} returns, bit for bit (CUDA: {@code CudaBackendTest}).
   *
   * <p>With the ranks' pairs taken as one batch: BATCH_MEAN divides each group's loss sum by its pairs over all
   * ranks, DATASET_FREQUENCY uses the pairs over all ranks as the batch size B, a group absent from every rank has
   * {@code L_g = 0} (its adjustment {@code C / sqrt(N_g)} still enters the weight update), and a group absent from
   * one rank only is normalised by the others' pairs.
   */
  public synchronized LossResult forwardBackward(PreferenceBatch batch, MemorySegment grad, GroupSync sync) {
    Objects.requireNonNull(sync, "sync");
    LossStatistics local = statistics(batch);
    Segments.requirePresent(grad, "grad");
    batch.validate(backend, grad);
    double[] sums = local.groupStatistics().toArray();
    sync.allReduce(sums);
    GroupStatistics all = GroupStatistics.fromArray(groups, sums);
    for (int g = 0; g < groups; g++) {
      if (all.pairs(g) < local.groupStatistics().pairs(g)) {
        throw new IllegalArgumentException("sync returned " + all.pairs(g) + " pairs of group " + g + ", fewer than "
            + "this rank's batch holds (" + local.groupStatistics().pairs(g) + "): GroupSync.allReduce must sum "
            + "every rank's statistics in place, this rank's included");
      }
    }
    GroupStep step = groupStep(all, true);
    gradient(local, step, grad);
    return LossResult.of(local, step);
  }

  /**
   * Phase 1: reads the batch's logits once and returns its per-pair values and {@link GroupStatistics}; keeps what
   * the gradient of this batch needs until the next call of this method. Does not touch the group weights. Every
   * backend.
   *
   * @throws IllegalArgumentException as {@link #forwardBackward(PreferenceBatch, MemorySegment)} for bad inputs
   */
  public synchronized LossStatistics statistics(PreferenceBatch batch) {
    ensureOpen();
    Objects.requireNonNull(batch, "batch");
    batch.validate(backend, null);
    return new LossStatistics(this, batch, groups, kernel.statistics(kernelTokens(batch.tokens()), batch.refLogps(),
        batch.groupIds()));
  }

  /**
   * Phase 1 from sequence log-probs instead of logits: the per-pair values and {@link GroupStatistics} of pairs whose
   * log-probs {@code s_r} were computed elsewhere, e.g. by a fused LM head that works through the tokens in chunks
   * with {@link TokenPasses} and never holds the whole logits tensor. Continue with {@link #groupStep} and
   * {@link #sequenceGradient}. Every backend; the arrays are staged into its memory.
   *
   * @throws IllegalArgumentException for group ids outside {@code [0, K)}
   * @throws NonFiniteInputException for non-finite log-probs
   */
  public synchronized LossStatistics statistics(SequenceBatch batch) {
    ensureOpen();
    Objects.requireNonNull(batch, "batch");
    int[] ids = batch.kernelGroupIds();
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= groups) {
        throw new IllegalArgumentException("groupIds[" + i + "] = " + ids[i] + " is outside [0, " + groups + ")");
      }
    }
    return new LossStatistics(this, batch, groups, kernel.sequenceStatistics(batch.kernelLogProbs(),
        batch.kernelTokenCounts(), batch.kernelRefLogps(), ids));
  }

  /**
   * Phase 3 for sequence statistics: {@code dJ/ds_r} of every row (chosen rows, then rejected rows), each pair's
   * {@code dl_i/ds} scaled by its group's coefficient in {@code step}. A fused LM head multiplies it into
   * {@code onehot - softmax} at each of the row's response positions ({@link TokenPasses#gradient}).
   *
   * @throws IllegalArgumentException for statistics computed from logits (use {@link #gradient}) or by another loss
   */
  public synchronized float[] sequenceGradient(LossStatistics statistics, GroupStep step) {
    requireSequenceStep(statistics, step);
    return kernel.sequenceGradient(statistics.sequences().kernelGroupIds(), statistics.dloss(),
        step.kernelStep().coef());
  }

  /**
   * As {@link #sequenceGradient(LossStatistics, GroupStep)}, written into {@code rowCoefficients}: f32 per row
   * (chosen rows, then rejected rows), 4-byte aligned, in this loss's backend memory. On CUDA the coefficients stay
   * on the device, where a fused LM head spreads them over the rows' positions
   * ({@link TokenPasses#gradient(TokenLogits, MemorySegment, MemorySegment, MemorySegment, Backend, int, long)}).
   */
  public synchronized void sequenceGradient(LossStatistics statistics, GroupStep step, MemorySegment rowCoefficients) {
    requireSequenceStep(statistics, step);
    Segments.require(rowCoefficients, "rowCoefficients", 4L * statistics.dloss().length, 4, backend, true);
    kernel.sequenceGradient(statistics.sequences().kernelGroupIds(), statistics.dloss(), step.kernelStep().coef(),
        rowCoefficients);
  }

  private void requireSequenceStep(LossStatistics statistics, GroupStep step) {
    ensureOpen();
    Objects.requireNonNull(statistics, "statistics");
    Objects.requireNonNull(step, "step");
    if (statistics.owner() != this) {
      throw new IllegalArgumentException("statistics come from another GroupRobustLoss: compute them with this one");
    }
    if (statistics.sequences() == null) {
      throw new IllegalArgumentException("statistics come from logits: write their gradient with gradient(...)");
    }
    requireGroups(step.numGroups(), "step");
    step.requireCovers(statistics.groupStatistics());
  }

  /**
   * Phase 2: the group step on {@code statistics}, one batch's or several combined (ranks, or the micro-batches of
   * an optimiser step). With {@code updateWeights} and ROBUST weighting the group weights take the
   * exponentiated-gradient step first (as in {@link #forwardBackward}); without, they stay, and the returned
   * coefficients use the current ones.
   *
   * @throws IllegalArgumentException if the statistics are of another number of groups or count no pairs
   */
  public synchronized GroupStep groupStep(GroupStatistics statistics, boolean updateWeights) {
    ensureOpen();
    Objects.requireNonNull(statistics, "statistics");
    requireGroups(statistics.groups(), "statistics");
    if (statistics.pairs() < 1) {
      throw new IllegalArgumentException("statistics count no pairs: a group step needs at least one");
    }
    double[] next = logAlpha.clone();
    GroupStep step = new GroupStep(kernel.groupStep(statistics.array(), updateWeights, next));
    if (updateWeights) {
      logAlpha = next;
      steps++;
    }
    return step;
  }

  /**
   * Phase 3: writes {@code dJ/dlogits} of the statistics' batch to {@code grad}, each pair's rows scaled by its
   * group's coefficient in {@code step}. Must follow {@link #statistics} for that batch before the next
   * {@code statistics} call of this loss.
   *
   * @throws IllegalStateException if another batch's statistics were computed since
   * @throws IllegalArgumentException for a bad {@code grad}, or statistics of another loss
   */
  public synchronized void gradient(LossStatistics statistics, GroupStep step, MemorySegment grad) {
    ensureOpen();
    Objects.requireNonNull(statistics, "statistics");
    Objects.requireNonNull(step, "step");
    if (statistics.owner() != this) {
      throw new IllegalArgumentException("statistics come from another GroupRobustLoss: compute them with this one");
    }
    requireGroups(step.numGroups(), "step");
    Segments.requirePresent(grad, "grad");
    PreferenceBatch batch = statistics.batch();
    if (batch == null) {
      throw new IllegalArgumentException("statistics come from sequence log-probs: take dJ/ds with sequenceGradient");
    }
    step.requireCovers(statistics.groupStatistics());
    batch.validate(backend, grad);
    kernel.gradient(kernelTokens(batch.tokens()), batch.groupIds(), grad, statistics.generation(),
        step.kernelStep().coef());
  }

  /** Evaluation call: the same outputs from the current weights; no gradient, no weight update. */
  public synchronized LossResult evaluate(PreferenceBatch batch) {
    ensureOpen();
    Objects.requireNonNull(batch, "batch");
    batch.validate(backend, null);
    return new LossResult(kernel.run(false, kernelTokens(batch.tokens()), batch.refLogps(), batch.groupIds(), null,
        logAlpha.clone()));
  }

  /** The group-weight state, for checkpoints. */
  public synchronized GroupWeightState state() {
    return new GroupWeightState(logAlpha, steps);
  }

  /**
   * Replaces the group-weight state, e.g. from a checkpoint; its number of groups must be this loss's. (A
   * {@link GroupWeightState} is always on the log simplex: its constructor checks.)
   */
  public synchronized void restoreState(GroupWeightState state) {
    Objects.requireNonNull(state, "state");
    if (state.logAlpha().length != groups) {
      throw new IllegalArgumentException("state has " + state.logAlpha().length + " groups, this loss has " + groups);
    }
    logAlpha = state.logAlpha();
    steps = state.steps();
  }

  /**
   * The robust state {@code alpha_g} on the simplex: uniform until the first ROBUST training call, moved by every
   * one after. The objective's weights mix it with uniform, {@code w_g = (1 - chi)/K + chi alpha_g}
   * ({@link LossResult#objectiveWeights()}); for AVERAGE and IMPORTANCE_SAMPLING it stays uniform.
   */
  public synchronized double[] alpha() {
    return Arrays.stream(logAlpha).map(Math::exp).toArray();
  }

  public int groups() {
    return groups;
  }

  public Backend backend() {
    return backend;
  }

  /** The loss terms summed per pair: one for a single loss. */
  public List<LossTerm> losses() {
    return losses;
  }

  /** Whether any loss term sorts across the pairs of a group ({@link PairLoss#sortsWithinGroup()}). */
  public boolean couplesPairs() {
    return losses.stream().anyMatch(t -> t.loss().sortsWithinGroup());
  }

  /** Whether any loss term reads the reference log-probs; when none does, they may be zeros. */
  public boolean usesReference() {
    return losses.stream().anyMatch(t -> t.loss().usesReference());
  }

  public Weighting weighting() {
    return weighting;
  }

  /** Frees the native staging memory (host, and device for CUDA). Further calls throw. */
  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      kernel.close();
    }
  }

  private void requireGroups(int k, String what) {
    if (k != groups) {
      throw new IllegalArgumentException(what + " has " + k + " groups, this loss has " + groups);
    }
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("this GroupRobustLoss is closed");
    }
  }

  static TokenKernels.Tokens kernelTokens(TokenLogits t) {
    return new TokenKernels.Tokens(t.logits(), t.labels(), t.rows(), t.seqLen(), t.vocab(), t.logitsType().abiCode(),
        t.labelType().abiCode());
  }

  static void requireBackend(Backend backend) {
    Objects.requireNonNull(backend, "backend");
    if (backend == Backend.CUDA) {
      if (!LossKernel.cudaCompiled()) {
        throw new IllegalStateException("Backend.CUDA requested, but this grpo4j library was built without its CUDA "
            + "backend (nvcc was not found at build time); use Backend.CPU or rebuild with the CUDA toolkit");
      }
      if (LossKernel.cudaDeviceCount() == 0) {
        throw new IllegalStateException("Backend.CUDA requested, but no CUDA device is usable on this machine "
            + "(no driver or no GPU); use Backend.CPU");
      }
    }
  }

  /** Whether {@link Backend#CUDA} can run here: the library has CUDA code and a device is present. */
  public static boolean cudaAvailable() {
    return LossKernel.cudaCompiled() && LossKernel.cudaDeviceCount() > 0;
  }

  /**
   * Options of a {@link GroupRobustLoss}. Defaults: DPO ({@code sigmoid}), reverse KL, beta 0.1, no label smoothing,
   * ROBUST weighting with eta 0.01 and chi 1, BATCH_MEAN normalisation, no adjustment, CPU backend on all cores.
   */
  public static final class Builder {
    private List<LossTerm> losses = List.of(new LossTerm(PairLoss.of(LossType.DPO), 1.0));
    private FDivergence fDivergence = FDivergence.REVERSE_KL;
    private double alphaDivergence = 0.5;
    private double discopopTau = 0.05;
    private double simpoGamma = 0.5;
    private double beta = 0.1;
    private double labelSmoothing;
    private boolean ipoLengthNormalization;
    private Weighting weighting = Weighting.ROBUST;
    private GroupNormalization normalization = GroupNormalization.BATCH_MEAN;
    private int groups = -1;
    private long[] groupSizes;
    private double eta = 0.01;
    private double chi = 1.0;
    private double adjustment;
    private Backend backend = Backend.CPU;
    private int threads;
    private long cudaStream;

    private Builder() {}

    /** The paper's loss: {@code sigmoid} for DPO, {@code ipo} for IPO. */
    public Builder lossType(LossType lossType) {
      return loss(PairLoss.of(Objects.requireNonNull(lossType, "lossType")));
    }

    /** One loss of the table, weight 1. */
    public Builder loss(PairLoss loss) {
      return losses(List.of(new LossTerm(Objects.requireNonNull(loss, "loss"), 1.0)));
    }

    /** A weighted sum of losses per pair (1 to 4 terms), as TRL's list of loss types with loss weights. */
    public Builder losses(List<LossTerm> terms) {
      this.losses = List.copyOf(Objects.requireNonNull(terms, "terms"));
      return this;
    }

    /** The scores the f-divergence losses compare (default reverse KL: the log-ratios). */
    public Builder fDivergence(FDivergence fDivergence) {
      this.fDivergence = Objects.requireNonNull(fDivergence, "fDivergence");
      return this;
    }

    /** The coefficient alpha of {@link FDivergence#ALPHA_DIVERGENCE}; default 0.5 (TRL's). */
    public Builder alphaDivergence(double alpha) {
      this.alphaDivergence = alpha;
      return this;
    }

    /** DiscoPOP's tau, > 0; default 0.05 (TRL's, the paper's). */
    public Builder discopopTau(double tau) {
      this.discopopTau = tau;
      return this;
    }

    /** SimPO's target reward margin gamma; default 0.5 (TRL's). */
    public Builder simpoGamma(double gamma) {
      this.simpoGamma = gamma;
      return this;
    }

    /** Inverse temperature beta of the implicit reward; > 0. */
    public Builder beta(double beta) {
      this.beta = beta;
      return this;
    }

    /**
     * Label smoothing eps in [0, 0.5), for the losses that read it ({@link PairLoss#usesLabelSmoothing()}):
     * conservative DPO for {@code sigmoid}, the flip rate of {@code robust}, EXO's target for {@code exo_pair}.
     */
    public Builder labelSmoothing(double labelSmoothing) {
      this.labelSmoothing = labelSmoothing;
      return this;
    }

    /**
     * {@code ipo} only: divide each sequence's log-ratio by its response-token count (TRL) instead of 1 (the paper).
     * A fully
     * masked row has {@code s = 0} and its count is taken as 1. Margins and rewards stay those of the summed
     * log-ratios.
     */
    public Builder ipoLengthNormalization(boolean enabled) {
      this.ipoLengthNormalization = enabled;
      return this;
    }

    /**
     * How J combines the groups: AVERAGE (the mean pair loss, plain DPO/IPO), IMPORTANCE_SAMPLING (fixed
     * {@code w_g = (1/N_g) / sum_h (1/N_h)} on the group losses) or ROBUST (the paper's exponentiated-gradient
     * weights).
     */
    public Builder weighting(Weighting weighting) {
      this.weighting = Objects.requireNonNull(weighting, "weighting");
      return this;
    }

    public Builder groupNormalization(GroupNormalization normalization) {
      this.normalization = Objects.requireNonNull(normalization, "normalization");
      return this;
    }

    /** Number of labeller groups K; required unless {@link #groupSizes} is given. */
    public Builder groups(int groups) {
      this.groups = groups;
      return this;
    }

    /**
     * Training-set pairs per group {@code N_g} (sets K to its length). Needed by DATASET_FREQUENCY,
     * IMPORTANCE_SAMPLING and a non-zero adjustment.
     */
    public Builder groupSizes(long... groupSizes) {
      this.groupSizes = groupSizes == null ? null : groupSizes.clone();
      return this;
    }

    /** Step size eta of the exponentiated-gradient weight update; >= 0. */
    public Builder eta(double eta) {
      this.eta = eta;
      return this;
    }

    /** Weights {@code w_g = (1-chi)/K + chi alpha_g}; chi in [0, 1], 1 is pure GRPO. */
    public Builder chi(double chi) {
      this.chi = chi;
      return this;
    }

    /** Generalisation adjustment C: {@code L_g += C / sqrt(N_g)} before the update (paper eq. 5); 0 = off. */
    public Builder adjustment(double adjustment) {
      this.adjustment = adjustment;
      return this;
    }

    public Builder backend(Backend backend) {
      this.backend = Objects.requireNonNull(backend, "backend");
      return this;
    }

    /** CPU threads; 0 (default) uses every available core. Results do not depend on it. */
    public Builder threads(int threads) {
      this.threads = threads;
      return this;
    }

    /** cudaStream_t address the CUDA kernels run on (0 = legacy default stream). */
    public Builder cudaStream(long cudaStream) {
      this.cudaStream = cudaStream;
      return this;
    }

    /** Validates every option and creates the loss with uniform group weights. */
    public GroupRobustLoss build() {
      if (!(beta > 0) || !Double.isFinite(beta)) {
        throw new IllegalArgumentException("beta = " + beta + ": must be finite and > 0 (typical: 0.01 to 1)");
      }
      if (!(labelSmoothing >= 0 && labelSmoothing < 0.5)) {
        throw new IllegalArgumentException("labelSmoothing = " + labelSmoothing + ": must be in [0, 0.5)");
      }
      LossChoice.validate(losses, labelSmoothing, ipoLengthNormalization, fDivergence, alphaDivergence, discopopTau,
          simpoGamma);
      if (!(eta >= 0) || !Double.isFinite(eta)) {
        throw new IllegalArgumentException("eta = " + eta + ": must be finite and >= 0");
      }
      if (!(chi >= 0 && chi <= 1)) {
        throw new IllegalArgumentException("chi = " + chi + ": must be in [0, 1]");
      }
      if (!(adjustment >= 0) || !Double.isFinite(adjustment)) {
        throw new IllegalArgumentException("adjustment = " + adjustment + ": must be finite and >= 0");
      }
      if (threads < 0) {
        throw new IllegalArgumentException("threads = " + threads + ": use 0 for all cores or a positive count");
      }
      if (groupSizes != null) {
        if (groupSizes.length == 0) {
          throw new IllegalArgumentException("groupSizes is empty: give N_g for every group");
        }
        if (groups != -1 && groups != groupSizes.length) {
          throw new IllegalArgumentException("groups = " + groups + " but groupSizes has " + groupSizes.length
              + " entries: they must agree");
        }
        groups = groupSizes.length;
        for (int g = 0; g < groupSizes.length; g++) {
          if (groupSizes[g] < 1) {
            throw new IllegalArgumentException("groupSizes[" + g + "] = " + groupSizes[g]
                + ": every group needs at least one training pair");
          }
        }
      }
      if (groups < 1) {
        throw new IllegalArgumentException(groups == -1 ? "set groups(K) or groupSizes(N_1..N_K)"
            : "groups = " + groups + ": need at least one group");
      }
      boolean needsSizes = normalization == GroupNormalization.DATASET_FREQUENCY
          || weighting == Weighting.IMPORTANCE_SAMPLING || adjustment != 0;
      if (needsSizes && groupSizes == null) {
        throw new IllegalArgumentException("groupSizes(N_1..N_K) is required for DATASET_FREQUENCY normalisation, "
            + "IMPORTANCE_SAMPLING weighting and a non-zero adjustment");
      }
      requireBackend(backend);
      return new GroupRobustLoss(this);
    }
  }
}
