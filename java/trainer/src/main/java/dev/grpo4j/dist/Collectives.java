package dev.grpo4j.dist;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.platform.LibTorch;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.AllgatherOptions;
import org.bytedeco.pytorch.AllreduceOptions;
import org.bytedeco.pytorch.Backend;
import org.bytedeco.pytorch.BarrierOptions;
import org.bytedeco.pytorch.BroadcastOptions;
import org.bytedeco.pytorch.ByteVector;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.GlooDeviceVector;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.ReduceOp;
import org.bytedeco.pytorch.StringVector;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.Work;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch_cuda;
import org.bytedeco.pytorch.nccl.ProcessGroupNCCL;

/**
 * The collectives of one data-parallel rank, on PyTorch's c10d: a TCPStore rendezvous at the master's address and
 * a Gloo process group (CPU tensors) or, for a CUDA run, an NCCL one on the GPU of this rank's {@code LOCAL_RANK}
 * (CUDA tensors; the host arrays of the small collectives travel through that GPU). NCCL needs the GPU build of
 * bytedeco pytorch ({@code -Pgpu}) and has not yet run in this project: no GPU was available to test it. Every call
 * waits at most the timeout; a peer that dies makes the waiting ranks fail with "connection closed by peer", and a
 * watchdog ends this process if a call still has not returned a minute after its timeout (a native wait that
 * ignores its deadline would otherwise hang the job).
 *
 * <p>Not thread-safe: one training loop issues the collectives, in the same order on every rank.
 */
public final class Collectives implements AutoCloseable {
  static {
    LibTorch.load();
  }

  /** How long past the timeout the watchdog waits before it ends a stuck process. */
  private static final Duration WATCHDOG_GRACE = Duration.ofSeconds(60);

  private final int rank;
  private final int worldSize;
  private final int localRank;
  private final Duration timeout;
  private final TCPStore store;
  private final Backend group;
  /** Where the collectives' tensors must live: null for Gloo (CPU), this rank's GPU for NCCL. */
  private final Device device;
  private final AtomicLong callStartedNanos = new AtomicLong();
  private final AtomicReference<String> currentCall = new AtomicReference<>();
  private final Thread watchdog;

  private Collectives(int rank, int worldSize, int localRank, Duration timeout, TCPStore store, Backend group,
                      Device device) {
    this.rank = rank;
    this.localRank = localRank;
    this.worldSize = worldSize;
    this.timeout = timeout;
    this.store = store;
    this.group = group;
    this.device = device;
    this.watchdog = Thread.ofPlatform().daemon().name("grpo4j-collectives-watchdog").start(this::watch);
  }

  /**
   * Joins the job: rank 0 serves the TCPStore at {@code masterAddr:masterPort}, the others connect to it, and all
   * form the Gloo group.
   *
   * @throws DistributedException naming the address and what to check when the rendezvous fails
   */
  public static Collectives connect(WorkerEnv env, Duration timeout) {
    return connect(env, timeout, false);
  }

  /**
   * As {@link #connect(WorkerEnv, Duration)}; with {@code cuda}, the group is NCCL's on GPU {@code LOCAL_RANK},
   * which becomes libtorch's current device.
   *
   * @throws DistributedException also when this machine has no GPU for the rank's {@code LOCAL_RANK}
   */
  public static Collectives connect(WorkerEnv env, Duration timeout, boolean cuda) {
    LibTorch.quietNativeLogs();
    Objects.requireNonNull(env, "env");
    Milliseconds millis = new Milliseconds(timeout.toMillis());
    if (env.rank() != 0) {
      awaitRankZero(env, timeout);
    }
    TCPStore store;
    try {
      TCPStoreOptions options = new TCPStoreOptions();
      options.port((short) env.masterPort());
      options.isServer(env.rank() == 0);
      options.waitWorkers(false);
      options.timeout(millis);
      store = new TCPStore(env.masterAddr(), options);
    } catch (RuntimeException e) {
      throw new DistributedException("rank " + env.rank() + ": the rendezvous at " + env.masterAddr() + ":"
          + env.masterPort() + " failed (" + oneLine(e) + "): "
          + (env.rank() == 0 ? "is the port in use? choose another with --master-port"
              : "is rank 0 running there, and is the port reachable from this machine?"), e);
    }
    Backend group;
    Device device = null;
    try {
      if (cuda) {
        int devices = torch_cuda.device_count();
        if (env.localRank() >= devices) {
          store.close();
          throw new DistributedException("rank " + env.rank() + ": LOCAL_RANK " + env.localRank() + " but this machine "
              + "has " + devices + " CUDA devices: start at most " + devices + " workers on it (--nproc-per-node)");
        }
        torch_cuda.set_device((byte) env.localRank());
        device = new Device("cuda:" + env.localRank());
        ProcessGroupNCCL.Options options = ProcessGroupNCCL.Options.create();
        options.timeout(millis);
        group = new ProcessGroupNCCL(store, env.rank(), env.worldSize(), options);
      } else {
        ProcessGroupGloo.Options options = ProcessGroupGloo.Options.create(millis);
        options.devices(new GlooDeviceVector(ProcessGroupGloo.createDeviceForHostname(env.glooHost())));
        options.threads(2);
        group = new ProcessGroupGloo(store, env.rank(), env.worldSize(), options);
      }
    } catch (RuntimeException e) {
      if (e instanceof DistributedException) {
        throw e;
      }
      throw new DistributedException("rank " + env.rank() + ": not all " + env.worldSize() + " ranks joined within "
          + timeout.toSeconds() + " s (" + oneLine(e) + "); check that every rank was started", e);
    }
    return new Collectives(env.rank(), env.worldSize(), env.localRank(), timeout, store, group, device);
  }

  /**
   * Waits until rank 0's rendezvous port accepts connections, at most {@code timeout}. c10d's own client retries with
   * back-off on top of its timeout, which turned a 10 s {@code --dist-timeout} into 20 to 30 s before the error.
   */
  private static void awaitRankZero(WorkerEnv env, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long leftMillis = (deadline - System.nanoTime()) / 1_000_000;
      try (Socket probe = new Socket()) {
        probe.connect(new InetSocketAddress(env.masterAddr(), env.masterPort()),
            (int) Math.max(1, Math.min(1000, leftMillis)));
        return;
      } catch (IOException e) {
        if (System.nanoTime() >= deadline) {
          throw new DistributedException("rank " + env.rank() + ": the rendezvous at " + env.masterAddr() + ":"
              + env.masterPort() + " did not answer within " + timeout.toSeconds() + " s (--dist-timeout): is rank 0 "
              + "running there, and is the port reachable from this machine?", e);
        }
      }
      try {
        Thread.sleep(Math.max(0, Math.min(200, (deadline - System.nanoTime()) / 1_000_000)));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new DistributedException("rank " + env.rank() + ": interrupted while waiting for rank 0", e);
      }
    }
  }

  public int rank() {
    return rank;
  }

  public int worldSize() {
    return worldSize;
  }

  /** This rank's index on its machine; with NCCL, the index of its GPU. */
  public int localRank() {
    return localRank;
  }

  /**
   * Checks that every rank runs with the same settings: each publishes {@code fingerprint} and compares it with
   * rank 0's.
   *
   * @throws DistributedException naming this rank when its fingerprint differs
   */
  public void requireSameConfiguration(String fingerprint, String what) {
    guard("configuration check", () -> {
      String key = "grpo4j/config/" + rank;
      store.set(key, new ByteVector(fingerprint.getBytes(StandardCharsets.UTF_8)));
      StringVector rank0 = new StringVector("grpo4j/config/0");
      store._wait(rank0, new Milliseconds(timeout.toMillis()));
      ByteVector value = store.get("grpo4j/config/0");
      byte[] bytes = new byte[(int) value.size()];
      for (int i = 0; i < bytes.length; i++) {
        bytes[i] = value.get(i);
      }
      String reference = new String(bytes, StandardCharsets.UTF_8);
      if (!reference.equals(fingerprint)) {
        throw new DistributedException("rank " + rank + " runs with other " + what + " than rank 0 (" + fingerprint
            + " vs " + reference + "): start every rank with the same command and data");
      }
      return null;
    });
    barrier();
  }

  /** Sums {@code values} element-wise over the ranks, in place. */
  public void allReduceSum(double[] values) {
    Tensor t = HostTensors.empty(ScalarType.Double, values.length);
    MemorySegment.copy(values, 0, HostTensors.data(t), JAVA_DOUBLE, 0, values.length);
    Tensor carried = toGroupDevice(t);
    allReduceSum(carried);
    backToHost(t, carried);
    MemorySegment.copy(HostTensors.data(t), JAVA_DOUBLE, 0, values, 0, values.length);
    Reference.reachabilityFence(t);
  }

  /** Whether the group is NCCL's, whose tensors live on this rank's GPU. */
  public boolean onGpu() {
    return device != null;
  }

  /** {@code host} where the group carries tensors: itself for Gloo, a copy on this rank's GPU for NCCL. */
  private Tensor toGroupDevice(Tensor host) {
    return device == null ? host : host.to(device, host.scalar_type());
  }

  private static void backToHost(Tensor host, Tensor carried) {
    if (carried != host) {
      host.copy_(carried);
    }
  }

  /**
   * Sums a contiguous tensor element-wise over the ranks, in place: a CPU tensor for Gloo, one on this rank's GPU for
   * NCCL.
   */
  public void allReduceSum(Tensor tensor) {
    guard("all-reduce", () -> {
      AllreduceOptions options = new AllreduceOptions();
      options.reduceOp(new ReduceOp(ReduceOp.RedOpType.SUM));
      options.timeout(new Milliseconds(timeout.toMillis()));
      finish(group.allreduce(new TensorVector(tensor), options));
      return null;
    });
  }

  /** Every rank's {@code values} (all of the same length), in rank order. */
  public double[][] allGather(double[] values) {
    Tensor input = HostTensors.empty(ScalarType.Double, values.length);
    MemorySegment.copy(values, 0, HostTensors.data(input), JAVA_DOUBLE, 0, values.length);
    Tensor output = HostTensors.empty(ScalarType.Double, (long) worldSize * values.length);
    Tensor carriedInput = toGroupDevice(input);
    Tensor carriedOutput = toGroupDevice(output);
    guard("all-gather", () -> {
      AllgatherOptions options = new AllgatherOptions();
      options.timeout(new Milliseconds(timeout.toMillis()));
      finish(group._allgather_base(carriedOutput, carriedInput, options));
      return null;
    });
    backToHost(output, carriedOutput);
    double[][] out = new double[worldSize][values.length];
    MemorySegment data = HostTensors.data(output);
    for (int r = 0; r < worldSize; r++) {
      MemorySegment.copy(data, JAVA_DOUBLE, 8L * r * values.length, out[r], 0, values.length);
    }
    Reference.reachabilityFence(input);
    Reference.reachabilityFence(output);
    return out;
  }

  /** {@code values} of rank {@code root} on every rank; the other ranks' arrays are overwritten. */
  public void broadcast(float[] values, int root) {
    Tensor t = HostTensors.empty(ScalarType.Float, values.length);
    MemorySegment.copy(values, 0, HostTensors.data(t), JAVA_FLOAT, 0, values.length);
    Tensor carried = toGroupDevice(t);
    guard("broadcast", () -> {
      BroadcastOptions options = new BroadcastOptions();
      options.rootRank(root);
      options.timeout(new Milliseconds(timeout.toMillis()));
      finish(group.broadcast(new TensorVector(carried), options));
      return null;
    });
    backToHost(t, carried);
    MemorySegment.copy(HostTensors.data(t), JAVA_FLOAT, 0, values, 0, values.length);
    Reference.reachabilityFence(t);
  }

  /** Whether any rank passed true: lets every rank stop at the same step when one of them was signalled. */
  public boolean anyTrue(boolean local) {
    double[] flag = {local ? 1 : 0};
    allReduceSum(flag);
    return flag[0] > 0;
  }

  /** Waits until every rank got here. */
  public void barrier() {
    guard("barrier", () -> {
      BarrierOptions options = new BarrierOptions();
      options.timeout(new Milliseconds(timeout.toMillis()));
      finish(group.barrier(options));
      return null;
    });
  }

  @Override
  public void close() {
    watchdog.interrupt();
    group.close();
    store.close();
  }

  private static void finish(Work work) {
    try {
      work._wait();
    } finally {
      work.close();
    }
  }

  private interface Call<T> {
    T run();
  }

  private <T> T guard(String what, Call<T> call) {
    currentCall.set(what);
    callStartedNanos.set(System.nanoTime());
    try {
      return call.run();
    } catch (DistributedException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new DistributedException("rank " + rank + ": " + what + " failed: " + oneLine(e) + " (a peer rank "
          + "died or did not answer within " + timeout.toSeconds() + " s; see its output)", e);
    } finally {
      currentCall.set(null);
    }
  }

  private void watch() {
    long limit = timeout.plus(WATCHDOG_GRACE).toNanos();
    while (!Thread.currentThread().isInterrupted()) {
      try {
        Thread.sleep(1000);
      } catch (InterruptedException e) {
        return;
      }
      String call = currentCall.get();
      if (call != null && System.nanoTime() - callStartedNanos.get() > limit) {
        System.err.println("grpo4j: rank " + rank + ": the " + call + " has not returned within "
            + (timeout.plus(WATCHDOG_GRACE).toSeconds()) + " s although its timeout is " + timeout.toSeconds()
            + " s; a peer rank is stuck or gone: ending this process");
        System.err.flush();
        Runtime.getRuntime().halt(DistributedException.EXIT_CODE);
      }
    }
  }

  static String oneLine(Throwable e) {
    String message = e.getMessage() == null ? e.toString() : e.getMessage();
    int newline = message.indexOf('\n');
    return newline < 0 ? message : message.substring(0, newline);
  }
}
