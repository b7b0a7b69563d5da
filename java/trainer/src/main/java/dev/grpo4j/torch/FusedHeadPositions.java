package dev.grpo4j.torch;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.grpo4j.SequenceBatch;
import dev.grpo4j.SequenceLogProbs;
import dev.grpo4j.TokenLogits;
import dev.grpo4j.TokenPasses;
import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.platform.LibTorch;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The response positions of a {@link FusedLmHead} call, M of them, in the order it works through them: their flat
 * indices into the {@code N x T} positions, their hidden rows (detached) and labels, and each one's row.
 *
 * @param index the flat indices, on the hidden states' device
 * @param x their hidden rows {@code [M, H]}, detached
 * @param labels their labels {@code [M]}
 * @param rowOf each position's row in {@code [0, N)}
 * @param rowIndex the same as int64 where the hidden states are, to spread row values over positions there
 * @param rows N
 */
record FusedHeadPositions(Tensor index, Tensor x, Tensor labels, int[] rowOf, Tensor rowIndex, int rows) {
  static {
    LibTorch.load();
  }

  /** The flat indices into the {@code N x T} positions of the labelled ones, ascending. */
  static long[] labelled(Tensor labels) {
    Tensor index = labels.reshape(-1).ne(new Scalar(TokenLogits.IGNORE_INDEX)).nonzero().reshape(-1).cpu()
        .contiguous();
    long[] out = new long[(int) index.numel()];
    MemorySegment.copy(HostTensors.data(index), JAVA_LONG, 0, out, 0, out.length);
    Reference.reachabilityFence(index);
    return out;
  }

  /** The positions at {@code positions} (flat indices, in working order) of {@code hidden} and {@code labels}. */
  static FusedHeadPositions gather(Tensor hidden, Tensor labels, long[] positions) {
    long t = hidden.size(1);
    Tensor index = HostTensors.longs(positions, positions.length).to(hidden.device(), ScalarType.Long);
    Tensor x = hidden.detach().reshape(hidden.size(0) * t, hidden.size(2)).index_select(0, index);
    Tensor selectedLabels = labels.reshape(-1).index_select(0, index).contiguous();
    int[] rowOf = new int[positions.length];
    long[] rows = new long[positions.length];
    for (int i = 0; i < rowOf.length; i++) {
      rowOf[i] = (int) (positions[i] / t);
      rows[i] = rowOf[i];
    }
    Tensor rowIndex = HostTensors.longs(rows, rows.length).to(hidden.device(), ScalarType.Long);
    return new FusedHeadPositions(index, x, selectedLabels, rowOf, rowIndex, (int) hidden.size(0));
  }

  /** {@code values} ({@code [N]}, one per row) as f32 where the hidden states are. */
  Tensor rowValues(float[] values) {
    return HostTensors.floats(values, values.length).to(x.device(), ScalarType.Float);
  }

  /**
   * The {@code c} positions' values from {@code start} of {@code rowValues} ({@code [N]}): each position's row's,
   * gathered where they live, without a trip through the host.
   */
  Tensor perPosition(Tensor rowValues, int start, int c) {
    return rowValues.index_select(0, rowIndex.narrow(0, start, c)).contiguous();
  }

  /** M. */
  int count() {
    return rowOf.length;
  }

  /**
   * The rows of {@code all} ({@code [N, T, w]}) at these positions, detached, or null for null. The selection stays
   * outside autograd: the backward of an index_select sorts its indices with one stack buffer per thread, which
   * libtorch's radix sort overflows at high thread counts; the gradient goes back through {@link #scattered}
   * instead.
   */
  Tensor selected(Tensor all) {
    return all == null ? null : all.detach().reshape(-1, all.size(-1)).index_select(0, index);
  }

  /** {@code rows} ({@code [M, w]}, one per position) placed into zeros shaped like {@code like}. */
  Tensor scattered(Tensor rows, Tensor like) {
    Tensor full = torch.zeros_like(like).reshape(-1, like.size(-1));
    full.index_copy_(0, index, rows.to(like.scalar_type().intern()));
    return full.view_as(like);
  }

  /** Room for the softmax statistics of every position, on their device. */
  Tensor statistics() {
    long bytes = Math.max(8, TokenPasses.statisticsBytes(count()));
    return torch.empty(new long[] {bytes}, new TensorOptions(ScalarType.Byte)
        .device(new DeviceOptional(x.device())), new MemoryFormatOptional());
  }

  /** Each row's sum of its positions' log-probs {@code tokenLogps}, and its count of positions. */
  SequenceLogProbs sequenceLogProbs(float[] tokenLogps) {
    int[] counts = new int[rows];
    return new SequenceLogProbs(rowSums(tokenLogps, counts), counts);
  }

  /** The loss's input: each row's sequence log-prob and count with the reference's and the pairs' groups. */
  SequenceBatch sequenceBatch(float[] tokenLogps, float[] refLogps, int[] groupIds) {
    int[] counts = new int[rows];
    return new SequenceBatch(rowSums(tokenLogps, counts), counts, refLogps, groupIds);
  }

  /** Sums in double, rounded once. */
  private float[] rowSums(float[] tokenLogps, int[] counts) {
    double[] sums = new double[rows];
    for (int i = 0; i < tokenLogps.length; i++) {
      sums[rowOf[i]] += tokenLogps[i];
      counts[rowOf[i]]++;
    }
    float[] out = new float[rows];
    for (int r = 0; r < rows; r++) {
      out[r] = (float) sums[r];
    }
    return out;
  }
}
