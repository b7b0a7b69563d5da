package dev.grpo4j.torch;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.GroupStep;
import dev.grpo4j.LossResult;
import dev.grpo4j.LossStatistics;
import dev.grpo4j.SequenceBatch;
import dev.grpo4j.SequenceLogProbs;
import dev.grpo4j.TokenLogits;
import dev.grpo4j.TokenPasses;
import dev.grpo4j.Weighting;
import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.platform.LibTorch;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
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
 * That is three head-sized products per position, as the whole logits need. {@code k} is an accumulator slot: one
 * for average weighting, whose coefficient is the same for every group, else one per group present (the pairs go by
 * group, so a chunk adds to each slot with one product). A pair whose positions do not fit one chunk is split over
 * chunks of its own, which are worked through twice (log-probs first, then recomputed with its {@code dl/ds}); so is
 * every pair when the extra slots would take more than the memory budget, or for float16 logits (an unscaled
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

  private final Backend backend;
  private final int threads;
  private final long cudaStream;
  private final long fixedChunkTokens;
  private final long memoryBudget;
  private final boolean deferCoefficients;

  private FusedLmHead(Backend backend, int threads, long cudaStream, long fixedChunkTokens, long memoryBudget,
                      boolean deferCoefficients) {
    this.backend = Objects.requireNonNull(backend, "backend");
    if (threads < 0) {
      throw new IllegalArgumentException("threads = " + threads + ": use 0 for all cores or a positive count");
    }
    this.threads = threads;
    this.cudaStream = cudaStream;
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
    return new FusedLmHead(backend, threads, cudaStream, 0, bytes, true);
  }

  /** Chunks of exactly {@code tokens} positions (the last one shorter), and as many accumulator slots as it takes. */
  public static FusedLmHead withChunkTokens(Backend backend, int threads, long cudaStream, long tokens) {
    if (tokens < 1) {
      throw new IllegalArgumentException("chunk of " + tokens + " tokens: must be >= 1");
    }
    return new FusedLmHead(backend, threads, cudaStream, tokens, Long.MAX_VALUE, true);
  }

  /**
   * The same head, but a training call works through every chunk twice, the group step in between, as it must when
   * the accumulator slots do not fit: one head-sized product more per position. For comparisons.
   */
  public FusedLmHead recomputingEveryChunk() {
    return new FusedLmHead(backend, threads, cudaStream, fixedChunkTokens, memoryBudget, false);
  }

  /** Positions per chunk for a head of {@code vocab} outputs of {@code elementBytes} each. */
  public long chunkTokens(long vocab, long elementBytes) {
    return fixedChunkTokens > 0 ? fixedChunkTokens : Math.max(1, memoryBudget / (vocab * elementBytes));
  }

  /**
   * The response positions of a call in the order it works through them: their flat indices into the {@code N x T}
   * positions, their hidden rows (detached) and labels, and each one's row.
   */
  private record Positions(Tensor index, Tensor x, Tensor labels, int[] rowOf, int rows) {}

  /**
   * Sequence log-probs and response-token counts of every row of {@code hidden} {@code [N, T, H]} at {@code labels}
   * {@code [N, T]} (int64, -100 masks a position): the reference scoring, without gradient.
   */
  public SequenceLogProbs sequenceLogProbs(Tensor hidden, LmHead head, Tensor labels) {
    try (NoGradGuard noGrad = new NoGradGuard()) {
      requireShapes(hidden, labels, head);
      Positions p = gather(hidden, labels, labelledPositions(labels));
      float[] tokenLogps = logProbsOnly(p, hidden, head);
      double[] sums = new double[p.rows()];
      int[] counts = new int[p.rows()];
      sumRows(p, tokenLogps, sums, counts);
      return new SequenceLogProbs(toFloats(sums), counts);
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
      Positions p = gather(hidden, labels, labelledPositions(labels));
      float[] tokenLogps = logProbsOnly(p, hidden, head);
      LossStatistics statistics = loss.statistics(sequenceBatch(p, tokenLogps, refLogps, groupIds));
      return LossResult.of(statistics, loss.groupStep(statistics.groupStatistics(), false));
    }
  }

  private float[] logProbsOnly(Positions p, Tensor hidden, LmHead head) {
    Tensor u = selected(p, adapterInput(hidden, head, false));
    float[] tokenLogps = new float[p.rowOf().length];
    forward(p, u, head, statistics(p), chunkBuffer(p.x(), head), 0, tokenLogps.length, tokenLogps);
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
    Layout layout = layout(labelledPositions(labels), hidden, head, loss, groupIds);
    Positions p = gather(hidden, labels, layout.positions());
    Tensor u = adapterInput(hidden, head, head.training());
    Tensor uDetached = selected(p, u);
    Tensor statistics = statistics(p);
    Tensor buffer = chunkBuffer(p.x(), head);
    int m = p.rowOf().length;
    int[] slotOf = new int[m];
    for (int i = 0; i < m; i++) {
      slotOf[i] = layout.slotOfGroup()[groupIds[p.rowOf()[i] % pairs]];
    }
    Sinks sinks = new Sinks(p, u, uDetached, head, layout.slots(), slotOf);
    float[] tokenLogps = new float[m];
    float[] rowCoef = new float[2 * pairs];
    int split = layout.splitPositions();
    forward(p, uDetached, head, statistics, buffer, 0, split, tokenLogps);
    if (layout.deferred()) {
      pairGradients(loss, layout.splitPairs(), p, tokenLogps, 0, split, refLogps, groupIds, rowCoef);
      int start = split;
      for (int[] chunkPairs : layout.wholeChunks()) {
        int c = positionsOf(chunkPairs, layout.pairPositions());
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
          Tensor z = forwardChunk(p, uDetached, head, statistics, buffer, start, c, tokenLogps);
          pairGradients(loss, chunkPairs, p, tokenLogps, start, c, refLogps, groupIds, rowCoef);
          sinks.add(z, statistics, start, c, rowCoef);
        }
        start += c;
      }
      recompute(p, uDetached, head, statistics, buffer, split, rowCoef, sinks);
    }
    LossStatistics lossStatistics = loss.statistics(sequenceBatch(p, tokenLogps, refLogps, groupIds));
    GroupStep step = groupStep.apply(lossStatistics);
    LossResult result = LossResult.of(lossStatistics, step);
    if (layout.deferred()) {
      sinks.scale(layout.slotOfGroup(), step.coefficients(), scale, groupIds);
    } else {
      float[] scaled = loss.sequenceGradient(lossStatistics, step);
      for (int r = 0; r < rowCoef.length; r++) {
        rowCoef[r] = (float) (scaled[r] * scale);
      }
      recompute(p, uDetached, head, statistics, buffer, split, rowCoef, sinks);
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
    long[] positions = labelledPositions(labels);
    int m = positions.length;
    if (m == 0) {
      return Double.NaN;
    }
    Positions p = gather(hidden, labels, positions);
    Tensor u = adapterInput(hidden, head, head.training());
    Tensor uDetached = selected(p, u);
    Tensor statistics = statistics(p);
    Tensor buffer = chunkBuffer(p.x(), head);
    Sinks sinks = new Sinks(p, u, uDetached, head, 1, new int[m]);
    float[] tokenLogps = new float[m];
    float[] rowCoef = new float[p.rows()];
    Arrays.fill(rowCoef, (float) (-scale / m));
    long chunk = chunkTokens(head.vocab(), p.x().element_size());
    for (int start = 0; start < m; start += (int) chunk) {
      int c = (int) Math.min(chunk, m - start);
      try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
        Tensor z = forwardChunk(p, uDetached, head, statistics, buffer, start, c, tokenLogps);
        sinks.add(z, statistics, start, c, rowCoef);
      }
    }
    double sum = 0;
    for (float logp : tokenLogps) {
      sum += logp;
    }
    sinks.backward(hidden);
    return -sum / m;
  }

  /**
   * The order a training call works through its response positions in, and its chunks. A pair whose positions fit
   * one chunk is whole; the whole pairs are packed into chunks of whole pairs, so that each chunk's margins, and with
   * them its {@code dl/ds}, are known as soon as its log-probs are. The other pairs are split: their positions come
   * first, in chunks of any positions that are worked through twice. Within each part the pairs go by group, so that
   * a chunk's positions of one accumulator slot are adjacent.
   *
   * @param positions flat indices into the {@code N x T} positions, in working order
   * @param splitPositions how many of them, the first, belong to split pairs
   * @param splitPairs the split pairs
   * @param wholeChunks the pairs of each chunk of whole pairs, in order
   * @param pairPositions response positions of each pair
   * @param deferred whether the group coefficients scale the gradient after the products; if not, every pair is split
   *     and the group step comes before the recompute
   * @param slotOfGroup the accumulator slot of each group's gradient (-1 for a group without positions)
   * @param slots accumulator slots
   */
  record Layout(long[] positions, int splitPositions, int[] splitPairs, List<int[]> wholeChunks, int[] pairPositions,
                boolean deferred, int[] slotOfGroup, int slots) {}

  /** The layout of a training call whose labelled positions are {@code rowMajor} ({@link #labelledPositions}). */
  Layout layout(long[] rowMajor, Tensor hidden, LmHead head, GroupRobustLoss loss, int[] groupIds) {
    int pairs = groupIds.length;
    long seqLen = hidden.size(1);
    int[] rowStart = new int[2 * pairs + 1];
    for (long position : rowMajor) {
      rowStart[(int) (position / seqLen) + 1]++;
    }
    for (int r = 0; r < 2 * pairs; r++) {
      rowStart[r + 1] += rowStart[r];
    }
    int[] pairPositions = new int[pairs];
    for (int i = 0; i < pairs; i++) {
      pairPositions[i] = rowStart[i + 1] - rowStart[i] + rowStart[pairs + i + 1] - rowStart[pairs + i];
    }
    int[] byGroup = IntStream.range(0, pairs).boxed()
        .sorted(Comparator.comparingInt(i -> groupIds[i])).mapToInt(Integer::intValue).toArray();
    int[] slotOfGroup = new int[loss.groups()];
    Arrays.fill(slotOfGroup, -1);
    int groupSlots = 0;
    for (int i : byGroup) {
      if (pairPositions[i] > 0 && slotOfGroup[groupIds[i]] < 0) {
        slotOfGroup[groupIds[i]] = groupSlots++;
      }
    }
    boolean sameCoefficients = loss.weighting() == Weighting.AVERAGE;
    int slots = sameCoefficients ? 1 : Math.max(1, groupSlots);
    boolean deferred = deferCoefficients && hidden.scalar_type().intern() != ScalarType.Half
        && (slots - 1) * (double) accumulatorBytes(head) <= memoryBudget;
    if (!deferred || sameCoefficients) {
      slots = 1;
      for (int g = 0; g < slotOfGroup.length; g++) {
        slotOfGroup[g] = slotOfGroup[g] < 0 ? -1 : 0;
      }
    }
    long chunk = chunkTokens(head.vocab(), hidden.element_size());
    List<Integer> split = new ArrayList<>();
    List<Integer> whole = new ArrayList<>();
    for (int i : byGroup) {
      if (pairPositions[i] > 0) {
        (deferred && pairPositions[i] <= chunk ? whole : split).add(i);
      }
    }
    long[] positions = new long[rowMajor.length];
    int at = 0;
    for (List<Integer> part : List.of(split, whole)) {
      for (int i : part) {
        for (int row : new int[] {i, pairs + i}) {
          for (int k = rowStart[row]; k < rowStart[row + 1]; k++) {
            positions[at++] = rowMajor[k];
          }
        }
      }
    }
    int splitPositions = 0;
    for (int i : split) {
      splitPositions += pairPositions[i];
    }
    List<int[]> wholeChunks = new ArrayList<>();
    List<Integer> current = new ArrayList<>();
    long filled = 0;
    for (int i : whole) {
      if (filled + pairPositions[i] > chunk) {
        wholeChunks.add(current.stream().mapToInt(Integer::intValue).toArray());
        current.clear();
        filled = 0;
      }
      current.add(i);
      filled += pairPositions[i];
    }
    if (!current.isEmpty()) {
      wholeChunks.add(current.stream().mapToInt(Integer::intValue).toArray());
    }
    return new Layout(positions, splitPositions, split.stream().mapToInt(Integer::intValue).toArray(), wholeChunks,
        pairPositions, deferred, slotOfGroup, slots);
  }

  /** Bytes of one float32 accumulator slot: the head's parameters that take a gradient. */
  private static long accumulatorBytes(LmHead head) {
    long bytes = 0;
    for (Tensor t : new Tensor[] {head.weight(), head.bias(), head.hasAdapter() ? head.loraB() : null}) {
      if (t != null && t.requires_grad()) {
        bytes += 4 * t.numel();
      }
    }
    return bytes;
  }

  private static int positionsOf(int[] pairs, int[] pairPositions) {
    int sum = 0;
    for (int i : pairs) {
      sum += pairPositions[i];
    }
    return sum;
  }

  /**
   * {@code dl/ds} of the rows of {@code pairs} into {@code rowCoef}, from their log-probs, which are the
   * {@code count} positions from {@code start} of the working order.
   */
  private static void pairGradients(GroupRobustLoss loss, int[] pairs, Positions p, float[] tokenLogps, int start,
                                    int count, float[] refLogps, int[] groupIds, float[] rowCoef) {
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
  private void forward(Positions p, Tensor u, LmHead head, Tensor statistics, Tensor buffer, int from, int to,
                       float[] tokenLogps) {
    long chunk = chunkTokens(head.vocab(), p.x().element_size());
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
  private Tensor forwardChunk(Positions p, Tensor u, LmHead head, Tensor statistics, Tensor buffer, int start, int c,
                              float[] tokenLogps) {
    Tensor z = logits(p.x().narrow(0, start, c), u == null ? null : u.narrow(0, start, c), head, buffer);
    float[] chunkLogps = TokenPasses.logProbs(tokenLogits(z, p.labels().narrow(0, start, c)),
        statisticsSlice(statistics, start, c), backend, threads, cudaStream);
    Reference.reachabilityFence(z);
    System.arraycopy(chunkLogps, 0, tokenLogps, start, c);
    return z;
  }

  /** The split pairs' chunks (the first {@code split} positions) again: logits recomputed, then their gradient. */
  private void recompute(Positions p, Tensor u, LmHead head, Tensor statistics, Tensor buffer, int split,
                         float[] rowCoef, Sinks sinks) {
    long chunk = chunkTokens(head.vocab(), p.x().element_size());
    for (int start = 0; start < split; start += (int) chunk) {
      int c = (int) Math.min(chunk, split - start);
      try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
        Tensor z = logits(p.x().narrow(0, start, c), u == null ? null : u.narrow(0, start, c), head, buffer);
        sinks.add(z, statistics, start, c, rowCoef);
      }
    }
  }

  /**
   * Where the gradient of a training call goes: dX (and dU) per position, and the head's parameter gradients per
   * accumulator slot. The chunks' positions arrive in working order; a position's slot is {@code slotOf}.
   */
  private final class Sinks {
    static {
      LibTorch.load();
    }

    private final Positions p;
    private final Tensor u;
    private final Tensor uDetached;
    private final LmHead head;
    private final int slots;
    private final int[] slotOf;
    private final Tensor dx;
    private final Tensor du;
    private final Accumulator[][] accumulators;

    Sinks(Positions p, Tensor u, Tensor uDetached, LmHead head, int slots, int[] slotOf) {
      this.p = p;
      this.u = u;
      this.uDetached = uDetached;
      this.head = head;
      this.slots = slots;
      this.slotOf = slotOf;
      this.dx = torch.empty_like(p.x());
      this.du = u == null ? null : torch.empty_like(uDetached);
      Tensor[] parameters = {head.weight(), head.bias(), u == null ? null : head.loraB()};
      accumulators = new Accumulator[parameters.length][];
      for (int k = 0; k < parameters.length; k++) {
        if (parameters[k] != null && parameters[k].requires_grad()) {
          accumulators[k] = new Accumulator[slots];
          accumulators[k][0] = Accumulator.of(parameters[k]);
          for (int s = 1; s < slots; s++) {
            accumulators[k][s] = Accumulator.apart(parameters[k]);
          }
        }
      }
    }

    /**
     * The {@code c} positions from {@code start}, whose logits {@code z} holds: {@code z} becomes
     * {@code rowCoef (onehot - softmax)} in place, multiplied into dX and dU and added to the slots' sums.
     */
    void add(Tensor z, Tensor statistics, int start, int c, float[] rowCoef) {
      float[] coef = new float[c];
      for (int i = 0; i < c; i++) {
        coef[i] = rowCoef[p.rowOf()[start + i]];
      }
      TokenPasses.gradient(tokenLogits(z, p.labels().narrow(0, start, c)), statisticsSlice(statistics, start, c), coef,
          TorchPreferenceLoss.segment(z, "logits"), backend, threads, cudaStream);
      Reference.reachabilityFence(z);
      torch.mm_out(dx.narrow(0, start, c), z, head.weight());
      if (du != null) {
        torch.mm_out(du.narrow(0, start, c), z, head.loraB()).mul_(new Scalar(head.loraScale()));
      }
      for (int from = 0; from < c; ) {
        int slot = slotOf[start + from];
        int to = from + 1;
        while (to < c && slotOf[start + to] == slot) {
          to++;
        }
        Tensor g = z.narrow(0, from, to - from);
        Tensor xc = p.x().narrow(0, start + from, to - from);
        add(0, slot, g.t(), xc, 1.0);
        if (accumulators[1] != null) {
          accumulators[1][slot].addSum(g);
        }
        if (du != null) {
          add(2, slot, g.t(), uDetached.narrow(0, start + from, to - from), head.loraScale());
        }
        from = to;
      }
    }

    private void add(int parameter, int slot, Tensor left, Tensor right, double alpha) {
      if (accumulators[parameter] != null) {
        accumulators[parameter][slot].addProduct(left, right, alpha);
      }
    }

    /**
     * The group coefficients, once the group step is known: each position's dX (and dU) row times
     * {@code scale * c_g} of its pair's group, and the slots' sums combined into the first,
     * {@code sum_k scale * c_k dW_k}.
     */
    void scale(int[] slotOfGroup, double[] coefficients, double scale, int[] groupIds) {
      int pairs = groupIds.length;
      int m = p.rowOf().length;
      float[] factor = new float[m];
      for (int i = 0; i < m; i++) {
        factor[i] = (float) (coefficients[groupIds[p.rowOf()[i] % pairs]] * scale);
      }
      double[] slotFactor = new double[slots];
      Arrays.fill(slotFactor, Double.NaN);
      for (int g = 0; g < slotOfGroup.length; g++) {
        int slot = slotOfGroup[g];
        if (slot < 0) {
          continue;
        }
        double f = coefficients[g] * scale;
        if (!Double.isNaN(slotFactor[slot]) && slotFactor[slot] != f) {
          throw new IllegalStateException("groups of accumulator slot " + slot + " have different coefficients ("
              + slotFactor[slot] + ", " + f + "): the loss's weighting does not give every group the same");
        }
        slotFactor[slot] = f;
      }
      if (m > 0) {
        Tensor rows = HostTensors.floats(factor, m, 1).to(p.x().device(), ScalarType.Float);
        dx.mul_(rows);
        if (du != null) {
          du.mul_(rows);
        }
      }
      for (Accumulator[] sums : accumulators) {
        if (sums == null) {
          continue;
        }
        sums[0].scale(Double.isNaN(slotFactor[0]) ? 0 : slotFactor[0]);
        for (int s = 1; s < slots; s++) {
          sums[0].addScaled(sums[s], slotFactor[s]);
        }
      }
    }

    /**
     * The head's parameter gradients added to their {@code grad}, and one backward from the hidden states (and U)
     * with each position's row of dX (dU) in its place.
     */
    void backward(Tensor hidden) {
      List<Tensor> roots = new ArrayList<>();
      List<Tensor> grads = new ArrayList<>();
      for (Accumulator[] sums : accumulators) {
        if (sums != null) {
          sums[0].addRoot(roots, grads);
        }
      }
      if (hidden.requires_grad()) {
        roots.add(hidden);
        grads.add(scattered(p, dx, hidden));
      }
      if (u != null && u.requires_grad()) {
        roots.add(u);
        grads.add(scattered(p, du, u));
      }
      if (!roots.isEmpty()) {
        torch.backward(new TensorVector(roots.toArray(new Tensor[0])), new TensorVector(grads.toArray(new Tensor[0])),
            new BoolOptional(), false, new TensorVector());
      }
    }
  }

  /**
   * A parameter's gradient as the chunks add to it. A float32 parameter without a gradient yet gets the sum as its
   * gradient directly. Otherwise the sum is kept apart, in float32 (bf16 and f16 rounding would add up over the
   * chunks), and reaches the parameter through the one backward, as a gradient root on a view of it: autograd then
   * adds it to the parameter's other gradients of this backward (a tied embedding's) and the sum of those to the
   * earlier gradient, exactly as it would without the fused head. Summing into the earlier gradient instead would let
   * the GEMM add its K panels into it one by one and round otherwise, and gradient accumulation in one process would
   * no longer equal data-parallel ranks bit for bit.
   */
  private static final class Accumulator {
    static {
      LibTorch.load();
    }

    private final Tensor parameter;
    private final Tensor sum;
    private final boolean isGrad;

    private Accumulator(Tensor parameter, Tensor sum, boolean isGrad) {
      this.parameter = parameter;
      this.sum = sum;
      this.isGrad = isGrad;
    }

    static Accumulator of(Tensor parameter) {
      if (!parameter.requires_grad()) {
        return null;
      }
      if (parameter.scalar_type().intern() == ScalarType.Float && !parameter.grad().defined()) {
        parameter.mutable_grad().put(torch.zeros_like(parameter));
        return new Accumulator(parameter, parameter.grad(), true);
      }
      return apart(parameter);
    }

    /** A sum kept apart from the parameter's gradient whatever its dtype and gradient: an extra accumulator slot. */
    static Accumulator apart(Tensor parameter) {
      return new Accumulator(parameter, torch.zeros(parameter.sizes(),
          new TensorOptions(ScalarType.Float).device(new DeviceOptional(parameter.device()))), false);
    }

    void scale(double factor) {
      sum.mul_(new Scalar(factor));
    }

    /** Adds {@code factor} times another slot's sum. */
    void addScaled(Accumulator other, double factor) {
      sum.add_(other.sum, new Scalar(factor));
    }

    void addProduct(Tensor left, Tensor right, double alpha) {
      boolean cast = sum.scalar_type().intern() != left.scalar_type().intern();
      sum.addmm_(cast ? left.to(ScalarType.Float) : left, cast ? right.to(ScalarType.Float) : right,
          new Scalar(1.0), new Scalar(alpha));
    }

    void addSum(Tensor g) {
      sum.add_(g.to(sum.scalar_type().intern()).sum(new long[] {0}));
    }

    /** Adds the kept-apart sum as a backward root (a view of the parameter) and its gradient. */
    void addRoot(List<Tensor> roots, List<Tensor> grads) {
      if (isGrad) {
        return;
      }
      roots.add(parameter.view_as(parameter));
      grads.add(sum.to(parameter.scalar_type().intern()));
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

  /** The flat indices into the {@code N x T} positions of the labelled ones, ascending. */
  static long[] labelledPositions(Tensor labels) {
    Tensor index = labels.reshape(-1).ne(new Scalar(TokenLogits.IGNORE_INDEX)).nonzero().reshape(-1).cpu()
        .contiguous();
    long[] out = new long[(int) index.numel()];
    MemorySegment.copy(HostTensors.data(index), JAVA_LONG, 0, out, 0, out.length);
    Reference.reachabilityFence(index);
    return out;
  }

  /** The positions at {@code positions} (flat indices, in working order): their hidden rows, labels and rows. */
  private static Positions gather(Tensor hidden, Tensor labels, long[] positions) {
    long t = hidden.size(1);
    Tensor index = HostTensors.longs(positions, positions.length).to(hidden.device(), ScalarType.Long);
    Tensor x = hidden.detach().reshape(hidden.size(0) * t, hidden.size(2)).index_select(0, index);
    Tensor selectedLabels = labels.reshape(-1).index_select(0, index).contiguous();
    int[] rowOf = new int[positions.length];
    for (int i = 0; i < rowOf.length; i++) {
      rowOf[i] = (int) (positions[i] / t);
    }
    return new Positions(index, x, selectedLabels, rowOf, (int) hidden.size(0));
  }

  /**
   * The rows of {@code all} ({@code [N, T, w]}) at the response positions, detached, or null for null. The selection
   * stays outside autograd: the backward of an index_select sorts its indices with one stack buffer per thread,
   * which libtorch's radix sort overflows at high thread counts; the gradient goes back through
   * {@link #scattered} instead.
   */
  private static Tensor selected(Positions p, Tensor all) {
    return all == null ? null : all.detach().reshape(-1, all.size(-1)).index_select(0, p.index());
  }

  /** {@code rows} ({@code [M, w]}, one per response position) placed into zeros shaped like {@code like}. */
  private static Tensor scattered(Positions p, Tensor rows, Tensor like) {
    Tensor full = torch.zeros_like(like).reshape(-1, like.size(-1));
    full.index_copy_(0, p.index(), rows.to(like.scalar_type().intern()));
    return full.view_as(like);
  }

  /** {@code U = dropout(x) A^T} of a LoRA head over all positions (tracked when x is), or null without an adapter. */
  private static Tensor adapterInput(Tensor x, LmHead head, boolean training) {
    if (!head.hasAdapter()) {
      return null;
    }
    Tensor in = head.loraDropout() > 0 && training ? torch.dropout(x, head.loraDropout(), true) : x;
    return torch.linear(in, head.loraA());
  }

  private static Tensor statistics(Positions p) {
    long bytes = Math.max(8, TokenPasses.statisticsBytes(p.rowOf().length));
    return torch.empty(new long[] {bytes}, new TensorOptions(ScalarType.Byte)
        .device(new DeviceOptional(p.x().device())), new MemoryFormatOptional());
  }

  private static MemorySegment statisticsSlice(Tensor statistics, long start, long count) {
    return TorchPreferenceLoss.segment(statistics, "statistics").asSlice(TokenPasses.statisticsBytes(start),
        TokenPasses.statisticsBytes(count));
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
    return z;
  }

  /** The logits buffer of one call: the chunk size's rows (at most M) of V, in the head's dtype and device. */
  private Tensor chunkBuffer(Tensor x, LmHead head) {
    long rows = Math.max(1, Math.min(x.size(0), chunkTokens(head.vocab(), x.element_size())));
    return torch.empty(new long[] {rows, head.vocab()}, new TensorOptions(x.scalar_type().intern())
        .device(new DeviceOptional(x.device())), new MemoryFormatOptional());
  }

  private TokenLogits tokenLogits(Tensor z, Tensor labels) {
    return TorchPreferenceLoss.tokens(z.view(z.size(0), 1, z.size(1)), labels.contiguous().view(labels.size(0), 1),
        false, backend);
  }

  private static void sumRows(Positions p, float[] tokenLogps, double[] sums, int[] counts) {
    for (int i = 0; i < tokenLogps.length; i++) {
      sums[p.rowOf()[i]] += tokenLogps[i];
      counts[p.rowOf()[i]]++;
    }
  }

  private static SequenceBatch sequenceBatch(Positions p, float[] tokenLogps, float[] refLogps, int[] groupIds) {
    double[] sums = new double[p.rows()];
    int[] counts = new int[p.rows()];
    sumRows(p, tokenLogps, sums, counts);
    return new SequenceBatch(toFloats(sums), counts, refLogps, groupIds);
  }

  private static float[] toFloats(double[] values) {
    float[] out = new float[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = (float) values[i];
    }
    return out;
  }
}
