package dev.grpo4j.torch;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.GroupStep;
import dev.grpo4j.LabelType;
import dev.grpo4j.LogitsType;
import dev.grpo4j.LossResult;
import dev.grpo4j.LossStatistics;
import dev.grpo4j.PreferenceBatch;
import dev.grpo4j.SequenceLogProbs;
import dev.grpo4j.TokenLogits;
import dev.grpo4j.platform.LibTorch;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Function;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Runs a {@link GroupRobustLoss} on libtorch tensors (bytedeco pytorch), so a JVM training loop can use the
 * fused kernel in place of libtorch's log_softmax / gather / loss / autograd chain.
 *
 * <p>The kernel computes the objective and its gradient with respect to the logits in one call; the caller then
 * continues backpropagation into the model from that gradient:
 *
 * <pre>{@code
 * try (PointerScope scope = new PointerScope()) {
 *   Tensor logits = model.forward(inputIds);                       // [2B, T, V], requires grad
 *   TorchPreferenceLoss.Result r = adapter.forwardBackward(logits, labels, refLogps, groupIds);
 *   logits.backward(r.grad(), new BoolOptional(), false, new TensorArrayRefOptional());
 *   optimizer.step();
 *   log(r.lossResult().loss(), r.lossResult().worstGroupLoss());
 * }
 * }</pre>
 *
 * <p>Inputs, TRL layout (B pairs, rows {@code [0, B)} chosen, rows {@code [B, 2B)} rejected):
 * <ul>
 *   <li>{@code logits} {@code [2B, T, V]}: float32, bfloat16 or float16;</li>
 *   <li>{@code labels} {@code [2B, T]}: int32 or int64, already shifted, {@link TokenLogits#IGNORE_INDEX} masks;</li>
 *   <li>{@code refLogps} {@code [2B]} float32: reference-model sequence log-probs, same row order;</li>
 *   <li>{@code groupIds} {@code [B]} int32 in {@code [0, K)}.</li>
 * </ul>
 * All must be dense and contiguous. For {@link Backend#CPU} and {@link Backend#REFERENCE} they must be CPU
 * tensors; for {@link Backend#CUDA} CUDA tensors on one device, the current CUDA device. Every violation is an
 * {@link IllegalArgumentException} that names the argument and says how to fix it. The checks that need the
 * values (a label outside {@code [0, V)} other than the ignore index, a group id outside {@code [0, K)},
 * non-finite logits) run in the kernel and throw {@link IllegalArgumentException} too; a rejected call leaves
 * the group weights unchanged.
 *
 * <p>CUDA streams: the kernels run on the stream the {@link GroupRobustLoss} was built with
 * ({@code builder().cudaStream(...)}, default 0, the legacy default stream) and {@link #sequenceLogProbs} always
 * on stream 0. libtorch's own default stream is that same legacy stream, so with the default setup the kernel
 * is ordered after the ops that produced the tensors. Reading libtorch's <em>current</em> stream needs the
 * {@code torch_cuda} classes, which throw when only the CPU build of bytedeco pytorch is present, so this
 * adapter does not look it up: a caller that switched libtorch to another stream must either synchronise it
 * first or build the loss with that stream's {@code cudaStream_t} address.
 *
 * <p>Memory: the tensors' storage is handed to the kernel directly (no copies). A gradient tensor this class
 * allocates belongs to the caller; inside a {@code PointerScope} it is freed with the scope.
 *
 * <p>Thread safety as for the wrapped loss: calls are serialised by it.
 */
public final class TorchPreferenceLoss {
  static {
    LibTorch.load();
  }

  /**
   * A training call's outputs.
   *
   * @param lossResult objective, per-pair and per-group values
   * @param grad {@code dJ/dlogits}, same shape, dtype and device as the logits; pass it to
   *     {@code logits.backward(grad, ...)}
   */
  public record Result(LossResult lossResult, Tensor grad) {
    public Result {
      Objects.requireNonNull(lossResult, "lossResult");
      Objects.requireNonNull(grad, "grad");
    }
  }

  private final GroupRobustLoss loss;

  /**
   * Wraps {@code loss}; the loss keeps its group-weight state and stays owned by the caller (close it when
   * training ends).
   */
  public TorchPreferenceLoss(GroupRobustLoss loss) {
    this.loss = Objects.requireNonNull(loss, "loss");
  }

  /** The wrapped loss, e.g. to checkpoint its group-weight state. */
  public GroupRobustLoss loss() {
    return loss;
  }

  /**
   * Training call: objective, group-weight update and a new gradient tensor {@code dJ/dlogits} (shape, dtype and
   * device of {@code logits}). The logits are only read.
   */
  public Result forwardBackward(Tensor logits, Tensor labels, Tensor refLogps, Tensor groupIds) {
    PreferenceBatch batch = validate(logits, labels, refLogps, groupIds);
    Tensor grad = torch.empty_like(logits);
    try {
      return new Result(run(batch, grad), grad);
    } catch (RuntimeException e) {
      grad.close();
      throw e;
    } finally {
      keepAlive(logits, labels, refLogps, groupIds);
    }
  }

  /**
   * Training call that writes {@code dJ/dlogits} into {@code grad}, a contiguous tensor of the logits' shape, dtype
   * and device outside autograd. It may share storage with the logits ({@code logits.detach()}): the gradient
   * then overwrites them and no second {@code [2B, T, V]} buffer is needed.
   *
   * <p>Writing in place is only sound when nothing in the autograd graph saved the logits' values for its own
   * backward (a linear LM head does not; e.g. tanh soft-capping does). The write bumps {@code grad}'s version
   * counter, which a detached view shares with the logits, so libtorch's backward reports such a graph as an
   * in-place modification instead of computing a wrong gradient.
   *
   * @return the outputs, with {@code grad} as {@link Result#grad()}
   */
  public Result forwardBackward(Tensor logits, Tensor labels, Tensor refLogps, Tensor groupIds, Tensor grad) {
    PreferenceBatch batch = validate(logits, labels, refLogps, groupIds);
    validateGrad(logits, grad);
    try {
      return new Result(run(batch, grad), grad);
    } finally {
      keepAlive(logits, labels, refLogps, groupIds);
    }
  }

  /**
   * Training call whose group step is the caller's: after the batch's statistics, {@code groupStep} returns the step
   * whose coefficients scale this batch's gradient, e.g. one run on statistics gathered from data-parallel ranks.
   * The gradient goes into {@code grad} as by {@link #forwardBackward(Tensor, Tensor, Tensor, Tensor, Tensor)}; with
   * a step taken on this batch's own statistics and {@code scale} 1 it equals that call bit for bit. The gradient is
   * that of {@code scale * J}, the factor taken into the group coefficients ({@link GroupStep#scaled}), not a second
   * pass over {@code grad}. Every backend.
   */
  public LossResult forwardBackward(Tensor logits, Tensor labels, Tensor refLogps, Tensor groupIds, Tensor grad,
                                    double scale, Function<LossStatistics, GroupStep> groupStep) {
    PreferenceBatch batch = validate(logits, labels, refLogps, groupIds);
    validateGrad(logits, grad);
    try {
      LossStatistics statistics = loss.statistics(batch);
      GroupStep step = groupStep.apply(statistics);
      loss.gradient(statistics, scale == 1.0 ? step : step.scaled(scale), segment(grad, "grad"));
      bumpVersion(grad);
      return LossResult.of(statistics, step);
    } finally {
      keepAlive(logits, labels, refLogps, groupIds);
    }
  }

  private static void validateGrad(Tensor logits, Tensor grad) {
    requireTensor(grad, "grad");
    if (grad.requires_grad()) {
      throw new IllegalArgumentException("grad requires grad: the kernel writes it outside autograd; pass "
          + "logits.detach() to write in place or torch.empty_like(logits) for a separate buffer");
    }
    requireDevice(grad, "grad", logits);
    if (dtype(grad) != dtype(logits)) {
      throw new IllegalArgumentException("grad has dtype " + dtype(grad) + " but logits have "
          + dtype(logits) + ": the gradient is written in the logits' dtype; allocate it with "
          + "torch.empty_like(logits)");
    }
    requireDenseContiguous(grad, "grad");
    if (!Arrays.equals(shape(grad), shape(logits))) {
      throw new IllegalArgumentException("grad has shape " + Arrays.toString(shape(grad)) + " but logits have "
          + Arrays.toString(shape(logits)) + ": they must match; allocate it with torch.empty_like(logits)");
    }
  }

  /** Evaluation call: outputs from the current group weights; no gradient, no weight update. */
  public LossResult evaluate(Tensor logits, Tensor labels, Tensor refLogps, Tensor groupIds) {
    try {
      return loss.evaluate(validate(logits, labels, refLogps, groupIds));
    } finally {
      keepAlive(logits, labels, refLogps, groupIds);
    }
  }

  /**
   * Masked sequence log-probs of {@code logits} {@code [R, T, V]} at {@code labels} {@code [R, T]} (any R >= 1),
   * e.g. to precompute reference log-probs once per data set. Same dtype, device and layout rules as
   * {@link #forwardBackward}; CUDA work runs on stream 0 and is complete on return.
   */
  public SequenceLogProbs sequenceLogProbs(Tensor logits, Tensor labels) {
    return sequenceLogProbs(logits, labels, loss.backend());
  }

  /**
   * As {@link #sequenceLogProbs(Tensor, Tensor)} without a loss, on {@code backend} (the tensors' device must match
   * it): for scoring reference log-probs before any loss exists.
   */
  public static SequenceLogProbs sequenceLogProbs(Tensor logits, Tensor labels, Backend backend) {
    try {
      return SequenceLogProbs.compute(tokens(logits, labels, false, backend), backend);
    } finally {
      keepAlive(logits, labels);
    }
  }

  /**
   * The kernel reads the tensors through raw addresses, invisible to the garbage collector; a caller that passes
   * {@code model.forward(ids)} straight in holds no other reference, and outside a {@code PointerScope} the
   * collector could free the storage mid-call.
   */
  private static void keepAlive(Tensor... tensors) {
    Reference.reachabilityFence(tensors);
  }

  private LossResult run(PreferenceBatch batch, Tensor grad) {
    LossResult result = loss.forwardBackward(batch, segment(grad, "grad"));
    bumpVersion(grad);
    return result;
  }

  /** Autograd detects in-place writes by version counter; the kernel writes behind libtorch's back, so record it. */
  private static void bumpVersion(Tensor grad) {
    if (!grad.is_inference()) {
      grad.unsafeGetTensorImpl().bump_version();
    }
  }

  private PreferenceBatch validate(Tensor logits, Tensor labels, Tensor refLogps, Tensor groupIds) {
    TokenLogits tokens = tokens(logits, labels, true, loss.backend());
    requireTensor(refLogps, "refLogps");
    requireTensor(groupIds, "groupIds");
    requireDevice(refLogps, "refLogps", logits);
    requireDevice(groupIds, "groupIds", logits);
    if (dtype(refLogps) != ScalarType.Float) {
      throw new IllegalArgumentException("refLogps has dtype " + dtype(refLogps)
          + ": it must be float32; convert with refLogps.to(torch.ScalarType.Float)");
    }
    if (dtype(groupIds) != ScalarType.Int) {
      throw new IllegalArgumentException("groupIds has dtype " + dtype(groupIds)
          + ": it must be int32; convert with groupIds.to(torch.ScalarType.Int)");
    }
    requireDenseContiguous(refLogps, "refLogps");
    requireDenseContiguous(groupIds, "groupIds");
    long rows = tokens.rows();
    long pairs = rows / 2;
    if (refLogps.dim() != 1 || refLogps.size(0) != rows) {
      throw new IllegalArgumentException("refLogps has shape " + Arrays.toString(shape(refLogps))
          + " but the logits have 2B = " + rows + " rows: it must be [" + rows
          + "], one reference log-prob per row in the logits' row order (chosen rows, then rejected rows)");
    }
    if (groupIds.dim() != 1 || groupIds.size(0) != pairs) {
      throw new IllegalArgumentException("groupIds has shape " + Arrays.toString(shape(groupIds))
          + " but the logits hold B = " + pairs + " pairs (2B = " + rows + " rows): it must be [" + pairs
          + "], one group per pair");
    }
    return new PreferenceBatch(tokens, segment(refLogps, "refLogps"), segment(groupIds, "groupIds"));
  }

  static TokenLogits tokens(Tensor logits, Tensor labels, boolean pairedRows, Backend backend) {
    requireTensor(logits, "logits");
    requireTensor(labels, "labels");
    if (backend == Backend.CUDA ? !logits.is_cuda() : !logits.is_cpu()) {
      throw new IllegalArgumentException("logits are on device " + deviceName(logits) + " but the loss runs on "
          + "Backend." + backend + ": " + (backend == Backend.CUDA
              ? "move them to the GPU (logits.to(device)) or build the loss with Backend.CPU"
              : "move them to the CPU (logits.cpu()) or build the loss with Backend.CUDA"));
    }
    requireDevice(labels, "labels", logits);
    LogitsType logitsType = switch (dtype(logits)) {
      case Float -> LogitsType.F32;
      case BFloat16 -> LogitsType.BF16;
      case Half -> LogitsType.F16;
      default -> throw new IllegalArgumentException("logits have dtype " + dtype(logits)
          + ": use float32, bfloat16 or float16, e.g. logits.to(torch.ScalarType.Float)");
    };
    LabelType labelType = switch (dtype(labels)) {
      case Int -> LabelType.I32;
      case Long -> LabelType.I64;
      default -> throw new IllegalArgumentException("labels have dtype " + dtype(labels)
          + ": use int64 or int32, e.g. labels.to(torch.ScalarType.Long)");
    };
    requireDenseContiguous(logits, "logits");
    requireDenseContiguous(labels, "labels");
    String rowsName = pairedRows ? "2B" : "R";
    if (logits.dim() != 3) {
      throw new IllegalArgumentException("logits have shape " + Arrays.toString(shape(logits)) + ": they must be ["
          + rowsName + ", T, V]" + (logits.dim() == 2 ? " (reshape [" + rowsName + "*T, V] logits with "
              + "logits.view(rows, T, V))" : ""));
    }
    long rows = logits.size(0);
    long seqLen = logits.size(1);
    long vocab = logits.size(2);
    if (pairedRows && rows % 2 != 0) {
      throw new IllegalArgumentException("logits have " + rows + " rows, an odd number: a preference batch holds 2B "
          + "rows, the B chosen responses then the B rejected responses of the same pairs");
    }
    if (rows < 1 || seqLen < 1 || vocab < 1) {
      throw new IllegalArgumentException("logits have shape " + Arrays.toString(shape(logits))
          + ": every dimension must be at least 1");
    }
    if (rows > Integer.MAX_VALUE || seqLen > Integer.MAX_VALUE || vocab > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("logits have shape " + Arrays.toString(shape(logits))
          + ": each dimension must be below 2^31; split the batch");
    }
    if (labels.dim() != 2 || labels.size(0) != rows || labels.size(1) != seqLen) {
      throw new IllegalArgumentException("labels have shape " + Arrays.toString(shape(labels)) + " but logits have "
          + Arrays.toString(shape(logits)) + ": labels must be [" + rows + ", " + seqLen
          + "], the token each logits position predicts (already shifted)");
    }
    return new TokenLogits(segment(logits, "logits"), logitsType, segment(labels, "labels"), labelType, (int) rows,
        (int) seqLen, (int) vocab);
  }

  private static void requireTensor(Tensor t, String name) {
    if (t == null || t.isNull()) {
      throw new IllegalArgumentException(name + " is null: pass a tensor");
    }
    if (!t.defined()) {
      throw new IllegalArgumentException(name + " is an undefined tensor: pass a tensor that holds data");
    }
  }

  /** {@code t} must be on the same device as the logits (already checked against the backend). */
  private static void requireDevice(Tensor t, String name, Tensor logits) {
    if (!t.device().equals(logits.device())) {
      throw new IllegalArgumentException(name + " is on device " + deviceName(t) + " but logits are on "
          + deviceName(logits) + ": move it there with " + name + ".to(logits.device())");
    }
  }

  private static void requireDenseContiguous(Tensor t, String name) {
    if (t.layout().intern() != torch.Layout.Strided) {
      throw new IllegalArgumentException(name + " has layout " + t.layout()
          + ": the kernel reads dense memory; convert with " + name + ".to_dense()");
    }
    if (!t.is_contiguous()) {
      throw new IllegalArgumentException(name + " is not contiguous (shape " + Arrays.toString(shape(t))
          + ", strides " + Arrays.toString(strides(t)) + "), e.g. after transpose or slicing: call " + name
          + ".contiguous()");
    }
  }

  /** The tensor's memory as a segment; a device address for CUDA tensors (read by the kernels, never by Java). */
  static MemorySegment segment(Tensor t, String name) {
    Pointer data = t.has_storage() ? t.data_ptr() : null;
    if (data == null || data.address() == 0) {
      throw new IllegalArgumentException(name + " has no data (device " + deviceName(t)
          + "): pass a tensor with allocated memory");
    }
    return MemorySegment.ofAddress(data.address()).reinterpret(t.nbytes());
  }

  /**
   * The tensor's dtype as a canonical enum constant. bytedeco returns native enums as fresh instances that carry
   * only the value, so {@code ==} and {@code switch} on them fail until they are interned.
   */
  private static ScalarType dtype(Tensor t) {
    return t.scalar_type().intern();
  }

  private static long[] shape(Tensor t) {
    long[] out = new long[(int) t.dim()];
    for (int d = 0; d < out.length; d++) {
      out[d] = t.size(d);
    }
    return out;
  }

  private static long[] strides(Tensor t) {
    long[] out = new long[(int) t.dim()];
    for (int d = 0; d < out.length; d++) {
      out[d] = t.stride(d);
    }
    return out;
  }

  private static String deviceName(Tensor t) {
    return t.device().str().getString();
  }
}
