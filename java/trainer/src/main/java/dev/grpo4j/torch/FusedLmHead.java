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
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
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
 * Only the response positions (labels other than -100) are taken, M of them, and worked through in chunks of C:
 * <ol>
 *   <li>per chunk, {@code z = X_c W^T (+ b, + LoRA)} and {@link TokenPasses#logProbs}: each position's log-prob and
 *       8 bytes of softmax statistics are kept, the chunk's logits dropped;</li>
 *   <li>the rows' log-probs summed in position order, then the loss's {@code statistics(SequenceBatch)}, the group
 *       step and {@code dJ/ds} per row;</li>
 *   <li>per chunk again, the logits recomputed and turned in place into {@code dJ/dz} ({@link TokenPasses#gradient}),
 *       then multiplied back: {@code dX_c = g W}, {@code dW += g^T X_c}, {@code db += sum g}, and for a LoRA head
 *       {@code dU_c = s g B}, {@code dB += s g^T U_c} with {@code U = dropout(X) A^T}.</li>
 * </ol>
 * One backward from the hidden states (and U), with each response position's row of {@code dX} in its place and
 * zeros elsewhere, then carries the gradient into the model; the head's parameter
 * gradients are added to their {@code grad} (a tied head's to the embedding's, which the same backward adds the
 * embedding's own to). The price is one more head matmul per chunk (the recompute); the memory is one chunk of logits
 * ({@code C x V} in the model's dtype) plus, for bf16 and f16 heads, a float32 accumulator of {@code dW}.
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

  private FusedLmHead(Backend backend, int threads, long cudaStream, long fixedChunkTokens, long memoryBudget) {
    this.backend = Objects.requireNonNull(backend, "backend");
    if (threads < 0) {
      throw new IllegalArgumentException("threads = " + threads + ": use 0 for all cores or a positive count");
    }
    this.threads = threads;
    this.cudaStream = cudaStream;
    this.fixedChunkTokens = fixedChunkTokens;
    this.memoryBudget = memoryBudget;
  }

  /** Chunks sized so that one chunk's logits take at most {@code bytes} (at least one position per chunk). */
  public static FusedLmHead withMemoryBudget(Backend backend, int threads, long cudaStream, long bytes) {
    if (bytes < 1) {
      throw new IllegalArgumentException("memory budget " + bytes + " bytes: must be >= 1");
    }
    return new FusedLmHead(backend, threads, cudaStream, 0, bytes);
  }

  /** Chunks of exactly {@code tokens} positions (the last one shorter). */
  public static FusedLmHead withChunkTokens(Backend backend, int threads, long cudaStream, long tokens) {
    if (tokens < 1) {
      throw new IllegalArgumentException("chunk of " + tokens + " tokens: must be >= 1");
    }
    return new FusedLmHead(backend, threads, cudaStream, tokens, 0);
  }

  /** Positions per chunk for a head of {@code vocab} outputs of {@code elementBytes} each. */
  public long chunkTokens(long vocab, long elementBytes) {
    return fixedChunkTokens > 0 ? fixedChunkTokens : Math.max(1, memoryBudget / (vocab * elementBytes));
  }

  /**
   * The response positions of a batch: their flat indices into the {@code N x T} positions, their hidden rows
   * (detached) and labels, and each one's row.
   */
  private record Positions(Tensor index, Tensor x, Tensor labels, int[] rowOf, int rows) {}

  /**
   * Sequence log-probs and response-token counts of every row of {@code hidden} {@code [N, T, H]} at {@code labels}
   * {@code [N, T]} (int64, -100 masks a position): the reference scoring, without gradient.
   */
  public SequenceLogProbs sequenceLogProbs(Tensor hidden, LmHead head, Tensor labels) {
    try (NoGradGuard noGrad = new NoGradGuard()) {
      Positions p = select(hidden, labels, head);
      Tensor x = p.x();
      Tensor u = selected(p, adapterInput(hidden, head, false));
      float[] tokenLogps = firstPass(p, x, u, head, statistics(p, x), chunkBuffer(x, head));
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
      Positions p = select(hidden, labels, head);
      Tensor x = p.x();
      Tensor u = selected(p, adapterInput(hidden, head, false));
      float[] tokenLogps = firstPass(p, x, u, head, statistics(p, x), chunkBuffer(x, head));
      LossStatistics statistics = loss.statistics(sequenceBatch(p, tokenLogps, refLogps, groupIds));
      return LossResult.of(statistics, loss.groupStep(statistics.groupStatistics(), false));
    }
  }

  /**
   * Training: the loss on the pairs of {@code hidden} {@code [2B, T, H]}, the group step {@code groupStep} chooses
   * (e.g. {@code s -> loss.groupStep(s.groupStatistics(), true)}), and the gradient of {@code scale * J}: into the
   * model by one backward from {@code hidden}, into the head's parameters by adding to their {@code grad}.
   */
  public LossResult forwardBackward(GroupRobustLoss loss, Tensor hidden, LmHead head, Tensor labels, float[] refLogps,
                                    int[] groupIds, double scale, Function<LossStatistics, GroupStep> groupStep) {
    Objects.requireNonNull(groupStep, "groupStep");
    Positions p = select(hidden, labels, head);
    TrainingPass pass = trainingPass(p, hidden, head);
    LossStatistics lossStatistics = loss.statistics(sequenceBatch(p, pass.tokenLogps(), refLogps, groupIds));
    GroupStep step = groupStep.apply(lossStatistics);
    float[] rowCoef = loss.sequenceGradient(lossStatistics, step);
    float[] coef = new float[p.rowOf().length];
    for (int i = 0; i < coef.length; i++) {
      coef[i] = (float) (rowCoef[p.rowOf()[i]] * scale);
    }
    backward(pass, hidden, head, coef);
    return LossResult.of(lossStatistics, step);
  }

  /**
   * Supervised fine-tuning from hidden states: the mean next-token negative log-likelihood over the labelled positions
   * of {@code hidden} {@code [N, T, H]} (what {@code cross_entropy} with {@code ignore_index = -100} gives on the whole
   * logits), with the gradient of {@code scale} times it taken as in {@link #forwardBackward}. NaN, and no gradient,
   * when no position is labelled.
   */
  public double crossEntropy(Tensor hidden, LmHead head, Tensor labels, double scale) {
    Positions p = select(hidden, labels, head);
    int m = p.rowOf().length;
    if (m == 0) {
      return Double.NaN;
    }
    TrainingPass pass = trainingPass(p, hidden, head);
    double sum = 0;
    for (float logp : pass.tokenLogps()) {
      sum += logp;
    }
    float[] coef = new float[m];
    java.util.Arrays.fill(coef, (float) (-scale / m));
    backward(pass, hidden, head, coef);
    return -sum / m;
  }

  /**
   * Pass 1 of a training call, with what pass 2 needs again: the adapter input U (null without LoRA on the head) and
   * its selected rows, the per-position softmax statistics and the chunk buffer.
   */
  private record TrainingPass(Positions p, Tensor u, Tensor uDetached, Tensor statistics, Tensor buffer,
                              float[] tokenLogps) {}

  private TrainingPass trainingPass(Positions p, Tensor hidden, LmHead head) {
    Tensor u = adapterInput(hidden, head, head.training());
    Tensor uDetached = selected(p, u);
    Tensor statistics = statistics(p, p.x());
    Tensor buffer = chunkBuffer(p.x(), head);
    float[] tokenLogps = firstPass(p, p.x(), uDetached, head, statistics, buffer);
    return new TrainingPass(p, u, uDetached, statistics, buffer, tokenLogps);
  }

  /**
   * Pass 2 and the backward: each chunk's logits recomputed and turned into {@code coef[i] * (onehot - softmax)}, then
   * multiplied into dX (and dU), the head's parameter gradients added to their {@code grad}, and one backward from the
   * hidden states (and U).
   */
  private void backward(TrainingPass pass, Tensor hidden, LmHead head, float[] coef) {
    Positions p = pass.p();
    Tensor u = pass.u();
    Tensor uDetached = pass.uDetached();
    Tensor statistics = pass.statistics();
    Tensor buffer = pass.buffer();
    Tensor x = p.x();
    Tensor dx = torch.empty_like(x);
    Tensor du = u == null ? null : torch.empty_like(uDetached);
    Accumulator weightGrad = Accumulator.of(head.weight());
    Accumulator biasGrad = head.bias() == null ? null : Accumulator.of(head.bias());
    Accumulator loraBGrad = u == null ? null : Accumulator.of(head.loraB());
    long m = x.size(0);
    long chunk = chunkTokens(head.vocab(), x.element_size());
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (long start = 0; start < m; start += chunk) {
        long c = Math.min(chunk, m - start);
        try (PointerScope scope = new PointerScope()) {
          Tensor xc = x.narrow(0, start, c);
          Tensor uc = uDetached == null ? null : uDetached.narrow(0, start, c);
          Tensor z = logits(xc, uc, head, buffer);
          TokenLogits tokens = tokenLogits(z, p.labels().narrow(0, start, c));
          TokenPasses.gradient(tokens, statisticsSlice(statistics, start, c),
              java.util.Arrays.copyOfRange(coef, (int) start, (int) (start + c)),
              TorchPreferenceLoss.segment(z, "logits"), backend, threads, cudaStream);
          Reference.reachabilityFence(z);
          dx.narrow(0, start, c).copy_(z.mm(head.weight()));
          if (weightGrad != null) {
            weightGrad.addProduct(z.t(), xc, 1.0);
          }
          if (biasGrad != null) {
            biasGrad.addSum(z);
          }
          if (uc != null) {
            du.narrow(0, start, c).copy_(z.mm(head.loraB()).mul(new Scalar(head.loraScale())));
            if (loraBGrad != null) {
              loraBGrad.addProduct(z.t(), uc, head.loraScale());
            }
          }
        }
      }
    }
    List<Tensor> roots = new ArrayList<>();
    List<Tensor> grads = new ArrayList<>();
    for (Accumulator a : new Accumulator[] {weightGrad, biasGrad, loraBGrad}) {
      if (a != null) {
        a.addRoot(roots, grads);
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
      return new Accumulator(parameter, torch.zeros(parameter.sizes(),
          new TensorOptions(ScalarType.Float).device(new DeviceOptional(parameter.device()))), false);
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

  private Positions select(Tensor hidden, Tensor labels, LmHead head) {
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
    long n = hidden.size(0);
    long t = hidden.size(1);
    Tensor flat = labels.reshape(-1);
    Tensor index = flat.ne(new Scalar(TokenLogits.IGNORE_INDEX)).nonzero().reshape(-1);
    Tensor x = hidden.detach().reshape(n * t, hidden.size(2)).index_select(0, index);
    Tensor selectedLabels = flat.index_select(0, index).contiguous();
    Tensor hostIndex = index.cpu().contiguous();
    int m = (int) hostIndex.numel();
    MemorySegment positions = HostTensors.data(hostIndex);
    int[] rowOf = new int[m];
    for (int i = 0; i < m; i++) {
      rowOf[i] = (int) (positions.getAtIndex(JAVA_LONG, i) / t);
    }
    Reference.reachabilityFence(hostIndex);
    return new Positions(index, x, selectedLabels, rowOf, (int) n);
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

  private Tensor statistics(Positions p, Tensor x) {
    long bytes = Math.max(8, TokenPasses.statisticsBytes(p.rowOf().length));
    return torch.empty(new long[] {bytes}, new TensorOptions(ScalarType.Byte).device(new DeviceOptional(x.device())),
        new MemoryFormatOptional());
  }

  private static MemorySegment statisticsSlice(Tensor statistics, long start, long count) {
    return TorchPreferenceLoss.segment(statistics, "statistics").asSlice(TokenPasses.statisticsBytes(start),
        TokenPasses.statisticsBytes(count));
  }

  @SuppressWarnings("try")
  private float[] firstPass(Positions p, Tensor x, Tensor u, LmHead head, Tensor statistics, Tensor buffer) {
    long m = x.size(0);
    float[] logps = new float[(int) m];
    long chunk = chunkTokens(head.vocab(), x.element_size());
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (long start = 0; start < m; start += chunk) {
        long c = Math.min(chunk, m - start);
        try (PointerScope scope = new PointerScope()) {
          Tensor z = logits(x.narrow(0, start, c), u == null ? null : u.narrow(0, start, c), head, buffer);
          float[] chunkLogps = TokenPasses.logProbs(tokenLogits(z, p.labels().narrow(0, start, c)),
              statisticsSlice(statistics, start, c), backend, threads, cudaStream);
          Reference.reachabilityFence(z);
          System.arraycopy(chunkLogps, 0, logps, (int) start, (int) c);
        }
      }
    }
    return logps;
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
