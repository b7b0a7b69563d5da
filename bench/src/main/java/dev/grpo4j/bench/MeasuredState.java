package dev.grpo4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.runner.IterationType;

/**
 * Base of every benchmark state: measures the peak extra memory of the variant (see {@link Memory}) over its
 * measurement iterations and, at the end of the fork, appends one JSON line to the file named by the environment
 * variable {@value #SIDECAR_ENV} (ci/bench.sh sets it; the report joins it with JMH's results by benchmark name
 * and parameters).
 *
 * <p>Peak extra = median over measurement iterations of (RSS high-water mark during the iteration - RSS at its
 * start) + {@link #preallocatedBytes}. The median, not the max: a late JIT compilation in one iteration can add
 * ~10 MB of compiler arenas to the process that no call of the variant allocated (seen on the small shape, where
 * one iteration makes thousands of calls); every call of a variant allocates the same, so its peak repeats in every
 * iteration. The max is kept in the sidecar too. Plus {@link #preallocatedBytes}, the outputs a variant allocates once in setup and reuses (the separate gradient
 * buffer of the fused kernel): libtorch allocates its gradient inside every call, where the high-water mark sees it,
 * so the fused variant's must be counted too for a fair comparison.
 */
public abstract class MeasuredState {
  static final String SIDECAR_ENV = "GRPO4J_BENCH_SIDECAR";

  /** Bytes of outputs allocated in setup and reused by every call (they count as extra memory). */
  protected long preallocatedBytes;
  private BenchmarkParams benchmarkParams;
  private boolean resetWorks;
  private long rssAtIterationStart;
  private final java.util.List<Long> peaks = new java.util.ArrayList<>();
  private long rssAfterSetup = -1;

  /** First call of every subclass's trial setup (JMH does not order a superclass's setup before a subclass's). */
  protected void begin(BenchmarkParams params) {
    this.benchmarkParams = params;
  }

  /** Name of the @Benchmark method this fork runs. */
  protected String method() {
    String name = benchmarkParams.getBenchmark();
    return name.substring(name.lastIndexOf('.') + 1);
  }

  protected String param(String key) {
    return benchmarkParams.getParam(key);
  }

  @Setup(Level.Iteration)
  public void resetPeakMemory() {
    if (rssAfterSetup < 0) {
      rssAfterSetup = Memory.residentBytes();
    }
    resetWorks = Memory.resetPeak();
    rssAtIterationStart = Memory.residentBytes();
  }

  @TearDown(Level.Iteration)
  public void readPeakMemory(IterationParams iteration) {
    if (resetWorks && iteration.getType() == IterationType.MEASUREMENT) {
      peaks.add(Memory.peakResidentBytes() - rssAtIterationStart);
    }
  }

  @TearDown(Level.Trial)
  public void writeSidecar() {
    String file = System.getenv(SIDECAR_ENV);
    if (file == null || file.isEmpty() || benchmarkParams == null) {
      return;
    }
    ObjectMapper json = new ObjectMapper();
    ObjectNode line = json.createObjectNode();
    line.put("benchmark", benchmarkParams.getBenchmark());
    ObjectNode params = line.putObject("params");
    for (String key : benchmarkParams.getParamsKeys()) {
      params.put(key, benchmarkParams.getParam(key));
    }
    java.util.List<Long> sorted = peaks.stream().sorted().toList();
    line.put("peakExtraBytes", sorted.isEmpty() ? -1 : sorted.get(sorted.size() / 2) + preallocatedBytes);
    line.put("maxPeakExtraBytes", sorted.isEmpty() ? -1 : sorted.get(sorted.size() - 1) + preallocatedBytes);
    line.putPOJO("iterationPeakBytes", sorted);
    line.put("preallocatedBytes", preallocatedBytes);
    line.put("rssAfterSetupBytes", rssAfterSetup);
    line.put("method", "VmHWM - VmRSS per measurement iteration (clear_refs 5), median, + preallocated outputs");
    try {
      Files.writeString(Path.of(file), json.writeValueAsString(line) + "\n", StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
