package dev.grpo4j.torch;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.GroupStep;
import dev.grpo4j.LossResult;
import dev.grpo4j.LossStatistics;
import dev.grpo4j.SequenceBatch;
import dev.grpo4j.SequenceLogProbs;
import dev.grpo4j.TokenPasses;
import dev.grpo4j.platform.LibTorch;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Function;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The group-robust preference loss straight from the last hidden states: the {@code [tokens x V]} logits never exist.
 * Only the response positions (labels other than -100) are taken, M of them, and worked through in chunks of at most
 * C positions, each chunk's logits {@code z = X_c W^T (+ b, + LoRA)} in one reused buffer:
 * <ol>
 *   <li>{@link TokenPasses#logProbs} gives each position's log-prob and keeps 8 bytes of softmax statistics;</li>
 *   <li>a pair's {@code dl/ds} needs only that pair's two sequence log-probs
 *       ({@link LossStatistics#pairLossGradients}), so a chunk that holds whole pairs turns its logits in place into
 *       {@code dl/ds (onehot - softmax)} ({@link TokenPasses#gradient}) right away and multiplies them back:
 *       {@code dX_c = g W}, {@code dW_k += g^T X_c}, {@code db_k += sum g}, and for a LoRA head
 *       {@code dU_c = s g B}, {@code dB_k += s g^T U_c} with {@code U = dropout(X) A^T};</li>
 *   <li>after the last chunk the group step (which needs every pair) gives each group's coefficient
 *       {@code dJ/dl}; each row of dX and dU is scaled by its group's, and {@code dW = sum_k c_k dW_k}.</li>
 * </ol>
 * That is three head-sized products per position, as the whole logits need. A head with a logits multiplier
 * {@code m} or a final soft-cap {@code c} (Granite, Gemma 2) applies them to each chunk's {@code z} before the token
 * passes and multiplies the gradient by their derivative, {@code m (1 - (z'/c)^2)} of the capped logits {@code z'}. {@code k} is an accumulator slot: one
 * for average weighting, whose coefficient is the same for every group, else one per group present (the pairs go by
 * group, so a chunk adds to each slot with one product). A pair whose positions do not fit one chunk is split over
 * chunks of its own, which are worked through twice (log-probs first, then recomputed with its {@code dl/ds}); so is
 * every pair when the extra slots would take more than the memory budget, for a loss that sorts across a group's
 * pairs (a pair's dl/ds then needs every pair), or for float16 logits (an unscaled
 * {@code dl/ds} could pass float16's range where the scaled gradient would not): then the group step comes before
 * the recompute and one accumulator takes the scaled gradient.
 *
 * <p>One backward from the hidden states (and U), with each response position's row of {@code dX} in its place and
 * zeros elsewhere, then carries the gradient into the model; the head's parameter gradients are added to their
 * {@code grad} (a tied head's to the embedding's, which the same backward adds the embedding's own to). The memory is
 * one chunk of logits ({@code C x V} in the model's dtype), the extra accumulator slots, and for bf16 and f16 heads a
 * float32 accumulator of {@code dW}.
 *
 * <p>Thread safety: none; one training loop drives it.
 */
@SuppressWarnings("try") // PointerScope and NoGradGuard act by existing; the bodies never name them
public final class FusedLmHead {
  static {
    LibTorch.load();
  }

  /** Logits memory per chunk when none is given: 256 MiB, about 440 positions at Qwen2.5's V = 151936 in float32. */
  public static final long DEFAULT_MEMORY_BUDGET = 256L << 20;

  private final FusedHeadPasses passes;
  private final long fixedChunkTokens;
  private final long memoryBudget;
  private final boolean deferCoefficients;

  private FusedLmHead(FusedHeadPasses passes, long fixedChunkTokens, long memoryBudget, boolean deferCoefficients) {
    this.passes = passes;
    this.fixedChunkTokens = fixedChunkTokens;
    this.memoryBudget = memoryBudget;
    this.deferCoefficients = deferCoefficients;
  }

  /**
   * Chunks sized so that one chunk's logits take at most {@code bytes} (at least one position per chunk); the extra
   * accumulator slots of a training call may take as much again, else every chunk is recomputed.
   */
  public static FusedLmHead withMemoryBudget(Backend backend, int threads, long cudaStream, long bytes) {
    if (bytes < 1) {
      throw new IllegalArgumentException("memory budget " + bytes + " bytes: must be >= 1");
    }
    return new FusedLmHead(new FusedHeadPasses(backend, threads, cudaStream), 0, bytes, true);
  }

  /** Chunks of exactly {@code tokens} positions (the last one shorter), and as many accumulator slots as it takes. */
  public static FusedLmHead withChunkTokens(Backend backend, int threads, long cudaStream, long tokens) {
    if (tokens < 1) {
      throw new IllegalArgumentException("chunk of " + tokens + " tokens: must be >= 1");
    }
    return new FusedLmHead(new FusedHeadPasses(backend, threads, cudaStream), tokens, Long.MAX_VALUE, true);
  }

  /**
   * The same head, but a training call works through every chunk twice, the group step in between, as it must when
   * the accumulator slots do not fit: one head-sized product more per position. For comparisons.
   */
  public FusedLmHead recomputingEveryChunk() {
    return new FusedLmHead(passes, fixedChunkTokens, memoryBudget, false);
  }

  /** Positions per chunk for a head of {@code vocab} outputs of {@code elementBytes} each. */
  public long chunkTokens(long vocab, long elementBytes) {
    return fixedChunkTokens > 0 ? fixedChunkTokens : Math.max(1, memoryBudget / (vocab * elementBytes));
  }

  /**
   * Positions per chunk of a call on {@code x}'s dtype: a soft-capped head keeps a second chunk-sized buffer (the
   * soft-cap's derivative), so it takes half as many.
   */
  private long chunk(LmHead head, Tensor x) {
    return chunkTokens(head.vocab(), x.element_size() * (head.softcap() > 0 ? 2 : 1));
  }

  /**
   * Sequence log-probs and response-token counts of every row of {@code hidden} {@code [N, T, H]} at {@code labels}
   * {@code [N, T]} (int64, -100 masks a position): the reference scoring, without gradient.
   */
  public SequenceLogProbs sequenceLogProbs(Tensor hidden, LmHead head, Tensor labels) {
    try (NoGradGuard noGrad = new NoGradGuard()) {
      requireShapes(hidden, labels, head);
      FusedHeadPositions p = FusedHeadPositions.gather(hidden, labels, FusedHeadPositions.labelled(labels));
      return p.sequenceLogProbs(logProbsOnly(p, hidden, head));
    }
  }

  /**
   * Evaluation: the loss's outputs from the current group weights (no update) for the pairs of {@code hidden}
   * {@code [2B, T, H]} (chosen rows, then rejected rows); no gradient.
   */
  public LossResult evaluate(GroupRobustLoss loss, Tensor hidden, LmHead head, Tensor labels, float[] refLogps,
                             int[] groupIds) {
    try (NoGradGuard noGrad = new NoGradGuard()) {
      requireShapes(hidden, labels, head);
      FusedHeadPositions p = FusedHeadPositions.gather(hidden, labels, FusedHeadPositions.labelled(labels));
      LossStatistics statistics = loss.statistics(p.sequenceBatch(logProbsOnly(p, hidden, head), refLogps, groupIds));
      return LossResult.of(statistics, loss.groupStep(statistics.groupStatistics(), false));
    }
  }

  private float[] logProbsOnly(FusedHeadPositions p, Tensor hidden, LmHead head) {
    Tensor u = p.selected(adapterInput(hidden, head, false));
    float[] tokenLogps = new float[p.count()];
    forward(p, u, head, p.statistics(), chunkBuffer(p.x(), head), 0, tokenLogps.length, tokenLogps);
    return tokenLogps;
  }

  /**
   * Training: the loss on the pairs of {@code hidden} {@code [2B, T, H]}, the group step {@code groupStep} chooses
   * (e.g. {@code s -> loss.groupStep(s.groupStatistics(), true)}), and the gradient of {@code scale * J}: into the
   * model by one backward from {@code hidden}, into the head's parameters by adding to their {@code grad}.
   *
   * @throws IllegalArgumentException for shapes that do not match, or group ids outside {@code [0, K)}
   */
  public LossResult forwardBackward(GroupRobustLoss loss, Tensor hidden, LmHead head, Tensor labels, float[] refLogps,
                                    int[] groupIds, double scale, Function<LossStatistics, GroupStep> groupStep) {
    Objects.requireNonNull(loss, "loss");
    Objects.requireNonNull(refLogps, "refLogps");
    Objects.requireNonNull(groupIds, "groupIds");
    Objects.requireNonNull(groupStep, "groupStep");
    requireShapes(hidden, labels, head);
    int pairs = groupIds.length;
    if (hidden.size(0) != 2L * pairs) {
      throw new IllegalArgumentException("hidden has " + hidden.size(0) + " rows but groupIds name " + pairs
          + " pairs: pass the B chosen rows, then the B rejected ones");
    }
    for (int i = 0; i < pairs; i++) {
      if (groupIds[i] < 0 || groupIds[i] >= loss.groups()) {
        throw new IllegalArgumentException("groupIds[" + i + "] = " + groupIds[i] + " is outside [0, " + loss.groups()
            + ")");
      }
    }
    FusedHeadLayout layout = layout(FusedHeadPositions.labelled(labels), hidden, head, loss, groupIds);
    FusedHeadPositions p = FusedHeadPositions.gather(hidden, labels, layout.positions());
    Tensor u = adapterInput(hidden, head, head.training());
    Tensor uDetached = p.selected(u);
    Tensor statistics = p.statistics();
    Tensor buffer = chunkBuffer(p.x(), head);
    int m = p.count();
    int[] slotOf = new int[m];
    for (int i = 0; i < m; i++) {
      slotOf[i] = layout.slotOfGroup()[groupIds[p.rowOf()[i] % pairs]];
    }
    FusedHeadGradient sinks = new FusedHeadGradient(p, u, uDetached, head, layout.slots(), slotOf, passes);
    float[] tokenLogps = new float[m];
    float[] rowCoef = new float[2 * pairs];
    int split = layout.splitPositions();
    forward(p, uDetached, head, statistics, buffer, 0, split, tokenLogps);
    if (layout.deferred()) {
      pairGradients(loss, layout.splitPairs(), p, tokenLogps, 0, split, refLogps, groupIds, rowCoef);
      int start = split;
      for (int[] chunkPairs : layout.wholeChunks()) {
        int c = layout.positionsOf(chunkPairs);
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
          Tensor z = forwardChunk(p, uDetached, head, statistics, buffer, start, c, tokenLogps);
          pairGradients(loss, chunkPairs, p, tokenLogps, start, c, refLogps, groupIds, rowCoef);
          sinks.add(z, statistics, start, c, p.rowValues(rowCoef));
        }
        start += c;
      }
      recompute(p, uDetached, head, statistics, buffer, split, p.rowValues(rowCoef), sinks);
    }
    LossStatistics lossStatistics = loss.statistics(p.sequenceBatch(tokenLogps, refLogps, groupIds));
    GroupStep step = groupStep.apply(lossStatistics);
    LossResult result = LossResult.of(lossStatistics, step);
    if (layout.deferred()) {
      sinks.scale(layout.slotOfGroup(), step.coefficients(), scale, groupIds);
    } else {
      // dJ/ds of every row, written where the logits live: on CUDA it never passes through the host.
      Tensor rowCoefficients = p.rowValues(new float[2 * pairs]);
      loss.sequenceGradient(lossStatistics, scale == 1.0 ? step : step.scaled(scale),
          TorchPreferenceLoss.segment(rowCoefficients, "row coefficients"));
      recompute(p, uDetached, head, statistics, buffer, split, rowCoefficients, sinks);
    }
    sinks.backward(hidden);
    return result;
  }

  /**
   * Supervised fine-tuning from hidden states: the mean next-token negative log-likelihood over the labelled positions
   * of {@code hidden} {@code [N, T, H]} (what {@code cross_entropy} with {@code ignore_index = -100} gives on the whole
   * logits), with the gradient of {@code scale} times it taken as in {@link #forwardBackward}. Every position's
   * coefficient, {@code -scale / M}, is known before the first chunk, so each chunk is worked through once. NaN, and
   * no gradient, when no position is labelled.
   */
  public double crossEntropy(Tensor hidden, LmHead head, Tensor labels, double scale) {
    requireShapes(hidden, labels, head);
    long[] positions = FusedHeadPositions.labelled(labels);
    int m = positions.length;
    if (m == 0) {
      return Double.NaN;
    }
    FusedHeadPositions p = FusedHeadPositions.gather(hidden, labels, positions);
    Tensor u = adapterInput(hidden, head, head.training());
    Tensor uDetached = p.selected(u);
    Tensor statistics = p.statistics();
    Tensor buffer = chunkBuffer(p.x(), head);
    FusedHeadGradient sinks = new FusedHeadGradient(p, u, uDetached, head, 1, new int[m], passes);
    float[] tokenLogps = new float[m];
    float[] rowCoef = new float[p.rows()];
    Arrays.fill(rowCoef, (float) (-scale / m));
    Tensor rowCoefficients = p.rowValues(rowCoef);
    long chunk = chunk(head, p.x());
    for (int start = 0; start < m; start += (int) chunk) {
      int c = (int) Math.min(chunk, m - start);
      try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
        Tensor z = forwardChunk(p, uDetached, head, statistics, buffer, start, c, tokenLogps);
        sinks.add(z, statistics, start, c, rowCoefficients);
      }
    }
    double sum = 0;
    for (float logp : tokenLogps) {
      sum += logp;
    }
    sinks.backward(hidden);
    return -sum / m;
  }

  /** The layout of a training call whose labelled positions are {@code rowMajor} (ascending flat indices). */
  FusedHeadLayout layout(long[] rowMajor, Tensor hidden, LmHead head, GroupRobustLoss loss, int[] groupIds) {
    return FusedHeadLayout.plan(rowMajor, hidden.size(1), groupIds, loss.groups(), loss.weighting(),
        chunk(head, hidden),
        deferCoefficients && hidden.scalar_type().intern() != ScalarType.Half && !loss.couplesPairs(),
        FusedHeadAccumulator.slotBytes(head),
        memoryBudget);
  }

  /**
   * {@code dl/ds} of the rows of {@code pairs} into {@code rowCoef}, from their log-probs, which are the
   * {@code count} positions from {@code start} of the working order.
   */
  private static void pairGradients(GroupRobustLoss loss, int[] pairs, FusedHeadPositions p, float[] tokenLogps,
                                    int start, int count, float[] refLogps, int[] groupIds, float[] rowCoef) {
    if (pairs.length == 0) {
      return;
    }
    int allPairs = groupIds.length;
    double[] sums = new double[2 * allPairs];
    int[] counts = new int[2 * allPairs];
    for (int i = start; i < start + count; i++) {
      sums[p.rowOf()[i]] += tokenLogps[i];
      counts[p.rowOf()[i]]++;
    }
    int k = pairs.length;
    float[] logps = new float[2 * k];
    int[] tokenCounts = new int[2 * k];
    float[] ref = new float[2 * k];
    int[] groups = new int[k];
    for (int q = 0; q < k; q++) {
      int i = pairs[q];
      for (int side = 0; side < 2; side++) {
        int row = side * allPairs + i;
        logps[side * k + q] = (float) sums[row];
        tokenCounts[side * k + q] = counts[row];
        ref[side * k + q] = refLogps[row];
      }
      groups[q] = groupIds[i];
    }
    double[] dloss = loss.statistics(new SequenceBatch(logps, tokenCounts, ref, groups)).pairLossGradients();
    for (int q = 0; q < k; q++) {
      rowCoef[pairs[q]] = (float) dloss[q];
      rowCoef[allPairs + pairs[q]] = (float) dloss[k + q];
    }
  }

  /** The log-probs of positions {@code [from, to)} of the working order into {@code tokenLogps}, chunk by chunk. */
  private void forward(FusedHeadPositions p, Tensor u, LmHead head, Tensor statistics, Tensor buffer, int from,
                       int to, float[] tokenLogps) {
    long chunk = chunk(head, p.x());
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (int start = from; start < to; start += (int) chunk) {
        int c = (int) Math.min(chunk, to - start);
        try (PointerScope scope = new PointerScope()) {
          forwardChunk(p, u, head, statistics, buffer, start, c, tokenLogps);
        }
      }
    }
  }

  /**
   * The logits of the {@code c} positions from {@code start}, in {@code buffer}, with their log-probs written to
   * {@code tokenLogps} and their softmax statistics kept.
   */
  private Tensor forwardChunk(FusedHeadPositions p, Tensor u, LmHead head, Tensor statistics, Tensor buffer,
                              int start, int c, float[] tokenLogps) {
    Tensor z = logits(p.x().narrow(0, start, c), u == null ? null : u.narrow(0, start, c), head, buffer);
    System.arraycopy(passes.logProbs(z, p, statistics, start, c), 0, tokenLogps, start, c);
    return z;
  }

  /** The split pairs' chunks (the first {@code split} positions) again: logits recomputed, then their gradient. */
  private void recompute(FusedHeadPositions p, Tensor u, LmHead head, Tensor statistics, Tensor buffer,
                         int split, Tensor rowCoefficients, FusedHeadGradient sinks) {
    long chunk = chunk(head, p.x());
    for (int start = 0; start < split; start += (int) chunk) {
      int c = (int) Math.min(chunk, split - start);
      try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
        Tensor z = logits(p.x().narrow(0, start, c), u == null ? null : u.narrow(0, start, c), head, buffer);
        sinks.add(z, statistics, start, c, rowCoefficients);
      }
    }
  }

  private static void requireShapes(Tensor hidden, Tensor labels, LmHead head) {
    Objects.requireNonNull(hidden, "hidden");
    Objects.requireNonNull(labels, "labels");
    Objects.requireNonNull(head, "head");
    if (hidden.dim() != 3 || labels.dim() != 2 || hidden.size(0) != labels.size(0)
        || hidden.size(1) != labels.size(1)) {
      throw new IllegalArgumentException("hidden must be [N, T, H] and labels [N, T] of the same N and T");
    }
    if (hidden.size(2) != head.weight().size(1)) {
      throw new IllegalArgumentException("hidden has width " + hidden.size(2) + " but the head's weight is ["
          + head.weight().size(0) + ", " + head.weight().size(1) + "]");
    }
    if (labels.scalar_type().intern() != ScalarType.Long) {
      throw new IllegalArgumentException("labels must be int64");
    }
  }

  /** {@code U = dropout(x) A^T} of a LoRA head over all positions (tracked when x is), or null without an adapter. */
  private static Tensor adapterInput(Tensor x, LmHead head, boolean training) {
    if (!head.hasAdapter()) {
      return null;
    }
    Tensor in = head.loraDropout() > 0 && training ? torch.dropout(x, head.loraDropout(), true) : x;
    return torch.linear(in, head.loraA());
  }

  /**
   * The chunk's logits {@code [C, V]} in the first C rows of {@code buffer}, which every chunk of both passes reuses:
   * a fresh chunk-sized allocation per chunk costs its page faults again each time (measured ~4% of a call at
   * Qwen2.5-0.5B's head).
   */
  private static Tensor logits(Tensor x, Tensor u, LmHead head, Tensor buffer) {
    Tensor z = buffer.narrow(0, 0, x.size(0));
    torch.mm_out(z, x, head.weight().t());
    if (head.bias() != null) {
      z.add_(head.bias());
    }
    if (u != null) {
      z.addmm_(u, head.loraB().t(), new Scalar(1.0), new Scalar(head.loraScale()));
    }
    if (head.logitsMultiplier() != 1) {
      z.mul_(new Scalar(head.logitsMultiplier()));
    }
    if (head.softcap() > 0) {
      Scalar cap = new Scalar(head.softcap());
      z.div_(cap).tanh_().mul_(cap);
    }
    return z;
  }

  /** The logits buffer of one call: the chunk size's rows (at most M) of V, in the head's dtype and device. */
  private Tensor chunkBuffer(Tensor x, LmHead head) {
    long rows = Math.max(1, Math.min(x.size(0), chunk(head, x)));
    return torch.empty(new long[] {rows, head.vocab()}, new TensorOptions(x.scalar_type().intern())
        .device(new DeviceOptional(x.device())), new MemoryFormatOptional());
  }
}
