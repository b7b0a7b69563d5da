package dev.grpo4j.dist;

import dev.grpo4j.platform.LibTorch;
import dev.grpo4j.platform.TensorVectors;
import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * This process's place in a training run: alone ({@link #single()}), or one rank of a data-parallel job with its
 * collectives. The operations the training loop needs are defined for both, so that one loop serves both: alone,
 * a gather returns this process's values and a sum leaves them as they are.
 */
public final class DataParallel implements AutoCloseable {
  static {
    LibTorch.load();
  }

  private static final DataParallel SINGLE = new DataParallel(null);

  private final Collectives collectives;
  private long gradientNanos;
  private long gatherNanos;

  private DataParallel(Collectives collectives) {
    this.collectives = collectives;
  }

  /** One process. */
  public static DataParallel single() {
    return SINGLE;
  }

  /** One rank of a job whose collectives are {@code collectives}; closing this closes them. */
  public static DataParallel of(Collectives collectives) {
    return new DataParallel(collectives);
  }

  public int rank() {
    return collectives == null ? 0 : collectives.rank();
  }

  public int worldSize() {
    return collectives == null ? 1 : collectives.worldSize();
  }

  /** Whether this process writes the run's files and prints its reports: rank 0, or the only process. */
  public boolean isMain() {
    return rank() == 0;
  }

  public boolean distributed() {
    return collectives != null;
  }

  /** Every rank's {@code values} (all of the same length), in rank order. */
  public double[][] allGather(double[] values) {
    if (collectives == null) {
      return new double[][] {values.clone()};
    }
    long start = System.nanoTime();
    double[][] all = collectives.allGather(values);
    gatherNanos += System.nanoTime() - start;
    return all;
  }

  /** Seconds spent so far in the gradient all-reduce (waiting for the slowest rank included). */
  public double gradientSeconds() {
    return gradientNanos / 1e9;
  }

  /** Seconds spent so far in all-gathers (group statistics, evaluation and reference shards). */
  public double gatherSeconds() {
    return gatherNanos / 1e9;
  }

  /**
   * What the collectives took per step over {@code steps} steps, a line for the end of a run; empty for one process.
   */
  public Optional<String> costPerStep(int steps) {
    if (collectives == null) {
      return Optional.empty();
    }
    int n = Math.max(1, steps);
    return Optional.of(String.format(Locale.ROOT, "data-parallel: %d processes; per step %.2f ms in the gradient "
        + "all-reduce and %.2f ms in all-gathers (waits for the slowest rank included)", worldSize(),
        1e3 * gradientSeconds() / n, 1e3 * gatherSeconds() / n));
  }

  /**
   * Stops the run when the ranks' replicas differ: they hold the same model and group weights after every step,
   * and a difference means the run went wrong, so it is better stopped than saved. {@code digest} (of this rank's
   * replica) is only computed when there are several ranks.
   *
   * @throws DistributedException naming the first rank whose digest differs from rank 0's
   */
  public void requireReplicasAgree(Supplier<byte[]> digest, int step) {
    if (collectives == null) {
      return;
    }
    byte[] bytes = digest.get();
    double[] mine = new double[bytes.length / 4];
    for (int i = 0; i < mine.length; i++) {
      mine[i] = ((bytes[4 * i] & 0xff) << 24 | (bytes[4 * i + 1] & 0xff) << 16 | (bytes[4 * i + 2] & 0xff) << 8
          | (bytes[4 * i + 3] & 0xff));
    }
    double[][] all = allGather(mine);
    for (int r = 1; r < all.length; r++) {
      if (!Arrays.equals(all[r], all[0])) {
        throw new DistributedException("after step " + step + " the weights or group weights of rank " + r
            + " differ from rank 0's: the replicas diverged, so the run stops before saving");
      }
    }
  }

  /** Whether any rank passed true. */
  public boolean anyTrue(boolean local) {
    return collectives == null ? local : collectives.anyTrue(local);
  }

  /** Rank 0's {@code values} on every rank. */
  public void broadcastFromMain(float[] values) {
    if (collectives != null) {
      collectives.broadcast(values, 0);
    }
  }

  /** Checks that every rank runs the same settings (a fingerprint of them). */
  public void requireSameConfiguration(String fingerprint, String what) {
    if (collectives != null) {
      collectives.requireSameConfiguration(fingerprint, what);
    }
  }

  public void barrier() {
    if (collectives != null) {
      collectives.barrier();
    }
  }

  /**
   * The chunks of {@code chunk} items among {@code n} that this rank takes: {@code [first, end)} item indices, a
   * contiguous run of whole chunks, so that every chunk is formed exactly as one process forms it.
   */
  public int[] shardOfChunks(int n, int chunk) {
    int chunks = (n + chunk - 1) / chunk;
    int first = (int) ((long) chunks * rank() / worldSize());
    int last = (int) ((long) chunks * (rank() + 1) / worldSize());
    return new int[] {Math.min(n, first * chunk), Math.min(n, last * chunk)};
  }

  /** Each rank's shard lengths of {@link #shardOfChunks}, in rank order. */
  public int[] shardLengths(int n, int chunk) {
    int chunks = (n + chunk - 1) / chunk;
    int[] lengths = new int[worldSize()];
    for (int r = 0; r < lengths.length; r++) {
      int first = (int) ((long) chunks * r / worldSize());
      int last = (int) ((long) chunks * (r + 1) / worldSize());
      lengths[r] = Math.min(n, last * chunk) - Math.min(n, first * chunk);
    }
    return lengths;
  }

  /** The concatenation, in rank order, of every rank's {@code shard}; {@code lengths} are all ranks' lengths. */
  public float[] gather(float[] shard, int[] lengths) {
    double[] padded = new double[Arrays.stream(lengths).max().orElse(0)];
    for (int i = 0; i < shard.length; i++) {
      padded[i] = shard[i];
    }
    double[] all = concatenate(padded, lengths);
    float[] out = new float[all.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) all[i];
    }
    return out;
  }

  /** As {@link #gather(float[], int[])} for ints (exact: they travel as doubles). */
  public int[] gather(int[] shard, int[] lengths) {
    double[] padded = new double[Arrays.stream(lengths).max().orElse(0)];
    for (int i = 0; i < shard.length; i++) {
      padded[i] = shard[i];
    }
    double[] all = concatenate(padded, lengths);
    int[] out = new int[all.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = (int) all[i];
    }
    return out;
  }

  private double[] concatenate(double[] padded, int[] lengths) {
    double[][] all = allGather(padded);
    double[] out = new double[Arrays.stream(lengths).sum()];
    int at = 0;
    for (int r = 0; r < lengths.length; r++) {
      System.arraycopy(all[r], 0, out, at, lengths[r]);
      at += lengths[r];
    }
    return out;
  }

  /**
   * Sums the gradients of {@code parameters} over the ranks, in one flat bucket: afterwards every rank holds the
   * gradient of all ranks' micro-batches. A parameter without a gradient contributes zeros and receives the sum.
   */
  public void allReduceGradients(TensorVector parameters) {
    if (collectives == null) {
      return;
    }
    long start = System.nanoTime();
    // The bucket is as large as the model: freed here, not whenever the garbage collector gets to its Java handle
    // (without the scope a worker's memory grew by tens of MB a step).
    try (PointerScope scope = new PointerScope()) {
      Tensor[] params = TensorVectors.owned(parameters);
      Tensor[] grads = new Tensor[params.length];
      TensorVector flat = new TensorVector();
      for (int i = 0; i < params.length; i++) {
        Tensor g = params[i].grad();
        if (!g.defined()) {
          params[i].mutable_grad().put(torch.zeros_like(params[i]));
          g = params[i].grad();
        }
        grads[i] = new Tensor(g);
        flat.push_back(grads[i].reshape(-1));
      }
      Tensor bucket = torch.cat(flat).contiguous();
      collectives.allReduceSum(bucket);
      long offset = 0;
      for (Tensor g : grads) {
        long n = g.numel();
        g.copy_(bucket.narrow(0, offset, n).view_as(g));
        offset += n;
      }
    }
    gradientNanos += System.nanoTime() - start;
  }

  /**
   * The libtorch device this rank trains on for {@code --device requested}: a CUDA job's ranks each take the GPU of
   * their local rank, every other job the device as given.
   */
  public String device(String requested) {
    return collectives != null && collectives.onGpu() ? "cuda:" + collectives.localRank() : requested;
  }

  @Override
  public void close() {
    if (collectives != null) {
      collectives.close();
    }
  }
}
