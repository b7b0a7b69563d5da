package dev.grpo4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * ci/bench.sh's post-processor: joins JMH's JSON results with the forks' memory sidecar, derives per row the
 * tokens/s, the effective bandwidth over the bytes the kernel must move, the fraction of the copy-bandwidth floor
 * measured in the same run, the speedup over libtorch and the peak extra memory; writes them (with the raw JMH
 * results and the machine) to one JSON file and prints the table, ending with the speedup line.
 *
 * <p>Usage: {@code Report --jmh FILE[,FILE...] --sidecar FILE --out FILE --machine NAME --command TEXT --load-before TEXT
 * --load-after TEXT}
 */
public final class Report {
  static final String MAIN_SHAPE = "8x512x32000";
  static final List<String> ORDER = List.of("CopyBench.copy", "CopyBench.copyTwoThreads",
      "FusedCpuBench.forwardBackward", "FusedCpuBench.forwardBackwardInPlace", "FusedCpuBench.forward",
      "FusedCpuBench.sequenceLogProbs", "LibtorchBench.forwardBackward",
      "LibtorchBench.forward", "CudaLossBench.copy", "CudaLossBench.forwardBackward",
      "CudaLossBench.forwardBackwardInPlace", "CudaLossBench.forward", "CudaLossBench.sequenceLogProbs");

  /** One derived row. */
  record Row(String benchmark, String variant, String shape, String dtype, double seconds, long samples,
             double floorBytes, double copyBandwidth, Double speedup, long peakExtraBytes) {
    double tokensPerSecond() {
      return shape == null ? Double.NaN : Shape.parse(shape).positions() / seconds;
    }

    double gbPerSecond() {
      return floorBytes / seconds / 1e9;
    }

    double fractionOfFloor() {
      return copyBandwidth > 0 && floorBytes > 0 ? floorBytes / copyBandwidth / seconds : Double.NaN;
    }
  }

  private Report() {}

  public static void main(String[] args) throws IOException {
    Map<String, String> opt = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      opt.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    ArrayNode jmh = json.createArrayNode();
    for (String file : opt.get("jmh").split(",")) {
      if (Files.exists(Path.of(file))) {
        json.readTree(Path.of(file).toFile()).forEach(jmh::add);
      } else {
        System.err.println("Report: no JMH results in " + file + " (that JMH run failed); reporting the others");
      }
    }
    Map<String, Long> memory = readSidecar(json, opt.get("sidecar"));

    // Results by "Class.method shape dtype".
    Map<String, JsonNode> byKey = new LinkedHashMap<>();
    for (JsonNode r : jmh) {
      byKey.put(key(r), r);
    }
    // Copy bandwidth per (shape, dtype): the faster of the 1- and 2-thread copies, (read + write) / time.
    Map<String, Double> copy = new HashMap<>();
    for (JsonNode r : jmh) {
      if (isCopy(shortName(r))) {
        Shape s = Shape.parse(param(r, "shape"));
        double bytes = s.elements() * Dtype.parse(param(r, "dtype")).bytes();
        copy.merge(device(shortName(r)) + " " + param(r, "shape") + " " + param(r, "dtype"), 2 * bytes / seconds(r),
            Math::max);
      }
    }

    List<Row> rows = new ArrayList<>();
    for (JsonNode r : jmh) {
      String name = shortName(r);
      String shape = param(r, "shape");
      String dtype = param(r, "dtype");
      if (shape == null || dtype == null) {
        continue;
      }
      String variant = variant(name);
      double bytes = Shape.parse(shape).elements() * (double) Dtype.parse(dtype).bytes();
      double floorBytes = isCopy(name) ? 2 * bytes : reads(name) * bytes;
      Double speedup = null;
      String libtorch = name.endsWith("forward") ? "LibtorchBench.forward" : "LibtorchBench.forwardBackward";
      JsonNode base = byKey.get(libtorch + " " + shape + " " + dtype);
      if (base != null && device(name).equals("cpu") && !isCopy(name) && !name.endsWith("sequenceLogProbs")) {
        speedup = seconds(base) / seconds(r);
      }
      rows.add(new Row(name, variant, shape, dtype, seconds(r), samples(r), floorBytes,
          copy.getOrDefault(device(name) + " " + shape + " " + dtype, 0.0), speedup,
          memory.getOrDefault(r.get("benchmark").asText() + " " + param(r, "shape") + " " + param(r, "dtype"), -1L)));
    }

    // One block per dtype and shape (fp32 first, small to large), variants in a fixed order within it.
    rows.sort(java.util.Comparator.comparing((Row r) -> device(r.benchmark()))
        .thenComparing(r -> r.dtype().equals("f32") ? 0 : 1)
        .thenComparingLong(r -> Shape.parse(r.shape()).elements())
        .thenComparingInt(r -> ORDER.indexOf(r.benchmark())));

    StringBuilder out = new StringBuilder();
    // --machine-info describes a machine other than this one (e.g. the GPU machine the results came from).
    String cpu = opt.getOrDefault("machine-info", cpuModel());
    int cpus = opt.containsKey("machine-info") ? 0 : Runtime.getRuntime().availableProcessors();
    JsonNode first = jmh.size() > 0 ? jmh.get(0) : null;
    String jdk = first == null ? "?" : first.path("jdkVersion").asText() + " (" + first.path("vmName").asText() + ")";
    out.append(String.format(Locale.ROOT, "%n## grpo4j benchmarks: %s, %s%n%n", opt.get("machine"), opt.get("date")));
    if (opt.containsKey("machine-info")) {
      out.append(String.format(Locale.ROOT, "Machine: %s; JDK %s%n", cpu, jdk));
    } else {
      out.append(String.format(Locale.ROOT, "Machine: %s, %d CPUs, %.0f GiB; JDK %s; OMP_WAIT_POLICY=%s%n", cpu, cpus,
          memoryGiB(), jdk, System.getenv().getOrDefault("OMP_WAIT_POLICY", "(unset)")));
    }
    out.append(String.format(Locale.ROOT, "Command: %s; load average (1, 5, 15 min) before: %s, after: %s%n",
        opt.get("command"), opt.get("load-before"), opt.get("load-after")));
    if (opt.containsKey("elapsed")) {
      out.append(String.format(Locale.ROOT, "Benchmarking took %s s (JMH, build not included)%n", opt.get("elapsed")));
    }
    out.append(String.format(Locale.ROOT, "Results file: %s%n%n", opt.get("out")));
    boolean cpuRows = rows.stream().anyMatch(r -> device(r.benchmark()).equals("cpu"));
    if (cpuRows) {
      out.append("| benchmark | shape | dtype | median | tokens/s | GB/s | of floor | vs libtorch | peak extra mem |\n");
      out.append("|---|---|---|---:|---:|---:|---:|---:|---:|\n");
    }
    List<Row> cudaRows = new ArrayList<>();
    for (Row row : rows) {
      if (device(row.benchmark()).equals("cuda")) {
        cudaRows.add(row);
        continue;
      }
      boolean probe = isCopy(row.benchmark());
      out.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %.1f | %s | %s | %s |%n", row.variant(),
          row.shape(), row.dtype(), time(row.seconds()), probe ? "–" : si(row.tokensPerSecond()), row.gbPerSecond(),
          probe ? "–" : percent(row.fractionOfFloor()), row.speedup() == null ? "–"
              : String.format(Locale.ROOT, "%.2f×", row.speedup()), mib(row.peakExtraBytes())));
    }

    if (!cudaRows.isEmpty()) {
      out.append(String.format(Locale.ROOT, "%nCUDA (%s; synchronised calls, wall time = device time + launches + "
          + "copy-back of the small outputs; floor from a device-to-device copy):%n%n", opt.getOrDefault("machine-info", "GPU")));
      out.append("| benchmark | shape | dtype | median | tokens/s | GB/s | of floor |\n|---|---|---|---:|---:|---:|---:|\n");
      for (Row row : cudaRows) {
        boolean probe = isCopy(row.benchmark());
        out.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %.0f | %s |%n", row.variant(), row.shape(),
            row.dtype(), time(row.seconds()), probe ? "–" : si(row.tokensPerSecond()), row.gbPerSecond(),
            probe ? "–" : percent(row.fractionOfFloor())));
      }
    }

    // FFM overhead.
    JsonNode empty = find(jmh, "FfmOverheadBench.emptyDowncall");
    JsonNode raw = find(jmh, "FfmOverheadBench.rawKernel");
    JsonNode api = find(jmh, "FfmOverheadBench.groupRobustLoss");
    Double overheadNs = raw != null && api != null ? (seconds(api) - seconds(raw)) * 1e9 : null;
    if (empty != null || overheadNs != null) {
      out.append(String.format(Locale.ROOT, "%nFFM call overhead (tiny batch %s, kernel threads = %s, median of "
          + "iteration means):%n%n", FfmOverheadBench.TINY, raw == null ? "?" : param(raw, "threads")));
      out.append("| call | ns per call |\n|---|---:|\n");
      for (JsonNode r : new JsonNode[] {empty, raw, api}) {
        if (r != null) {
          out.append(String.format(Locale.ROOT, "| %s | %.0f |%n", variant(shortName(r)), seconds(r) * 1e9));
        }
      }
      if (overheadNs != null) {
        out.append(String.format(Locale.ROOT, "| **GroupRobustLoss beyond the kernel** (API − raw) | **%.0f** |%n",
            overheadNs));
      }
      JsonNode lookups = find(jmh, "FfmOverheadBench.layoutPathLookups");
      if (lookups != null) {
        out.append(String.format(Locale.ROOT, "| (diagnostic) the 16 struct-offset lookups by name LossKernel.run makes "
            + "per call | %.0f |%n", seconds(lookups) * 1e9));
      }
    }

    // Training step.
    JsonNode fusedStep = find(jmh, "TrainingStepBench.fusedLoss");
    JsonNode torchStep = find(jmh, "TrainingStepBench.libtorchLoss");
    if (fusedStep != null || torchStep != null) {
      out.append(String.format(Locale.ROOT, "%nTraining step, tiny model (%s, AdamW), median:%n%n",
          TrainingStepBench.SHAPE));
      out.append("| loss | ms per step | peak extra mem |\n|---|---:|---:|\n");
      for (JsonNode r : new JsonNode[] {fusedStep, torchStep}) {
        if (r != null) {
          out.append(String.format(Locale.ROOT, "| %s | %.2f | %s |%n", variant(shortName(r)), seconds(r) * 1e3,
              mib(memory.getOrDefault(r.get("benchmark").asText() + " null null", -1L))));
        }
      }
      if (fusedStep != null && torchStep != null) {
        out.append(String.format(Locale.ROOT, "| step speedup, fused vs libtorch loss | %.2f× | |%n",
            seconds(torchStep) / seconds(fusedStep)));
      }
    }

    // The fused LM head (issue 11): hidden states to J, dJ/dX and dJ/dW three ways, and a whole training step.
    JsonNode headA = find(jmh, "FusedHeadBench.libtorchAutograd");
    JsonNode headB = find(jmh, "FusedHeadBench.libtorchLinearFusedLoss");
    JsonNode headC = find(jmh, "FusedHeadBench.fusedHead");
    JsonNode headD = find(jmh, "FusedHeadBench.fusedHeadRecomputing");
    if (headA != null || headB != null || headC != null) {
      JsonNode any = headC != null ? headC : headB != null ? headB : headA;
      out.append(String.format(Locale.ROOT, "%nLM head + loss at %s (pairs x T x H x V), fp32, single shot, median:%n%n",
          param(any, "shape")));
      out.append("| variant | time | peak extra mem |\n|---|---:|---:|\n");
      for (JsonNode r : new JsonNode[] {headA, headB, headC, headD}) {
        if (r != null) {
          String chunk = shortName(r).contains("fusedHead") ? " (" + param(r, "chunkMib") + " MiB chunks)" : "";
          out.append(String.format(Locale.ROOT, "| %s%s | %s | %s |%n", variant(shortName(r)), chunk, time(seconds(r)),
              mib(headMemory(memory, r))));
        }
      }
      if (headC != null && headB != null) {
        out.append(String.format(Locale.ROOT, "| (c) / (b): time %.2f×, memory %s | | |%n", seconds(headC) / seconds(headB),
            percent((double) headMemory(memory, headC) / headMemory(memory, headB))));
      }
      if (headC != null && headA != null) {
        out.append(String.format(Locale.ROOT, "| (c) / (a): time %.2f×, memory %s | | |%n", seconds(headC) / seconds(headA),
            percent((double) headMemory(memory, headC) / headMemory(memory, headA))));
      }
      if (headC != null && headD != null) {
        out.append(String.format(Locale.ROOT, "| (c) / (d): time %.2f×, memory %s | | |%n", seconds(headC) / seconds(headD),
            percent((double) headMemory(memory, headC) / headMemory(memory, headD))));
      }
    }
    JsonNode wholeStep = find(jmh, "QwenTrainingStepBench.wholeLogits");
    JsonNode fusedHeadStep = find(jmh, "QwenTrainingStepBench.fusedHead");
    if (wholeStep != null || fusedHeadStep != null) {
      JsonNode any = fusedHeadStep != null ? fusedHeadStep : wholeStep;
      out.append(String.format(Locale.ROOT, "%nTraining step, Qwen2.5-0.5B-shaped model, %s (pairs x T x prompt), fp32, "
          + "AdamW, single shot, median:%n%n", param(any, "shape")));
      out.append("| loss from | s per step | peak extra mem |\n|---|---:|---:|\n");
      for (JsonNode r : new JsonNode[] {wholeStep, fusedHeadStep}) {
        if (r != null) {
          out.append(String.format(Locale.ROOT, "| %s | %.1f | %s |%n", variant(shortName(r)), seconds(r),
              mib(headMemory(memory, r))));
        }
      }
    }

    // Targets.
    ObjectNode targets = json.createObjectNode();
    Row sep = row(rows, "FusedCpuBench.forwardBackward", MAIN_SHAPE, "f32");
    Row inPlace = row(rows, "FusedCpuBench.forwardBackwardInPlace", MAIN_SHAPE, "f32");
    Row torch = row(rows, "LibtorchBench.forwardBackward", MAIN_SHAPE, "f32");
    if (cpuRows) {
      out.append(String.format(Locale.ROOT, "%nTargets at %s fp32 (fused forward+backward):%n%n", MAIN_SHAPE));
    }
    for (Row fused : new Row[] {sep, inPlace}) {
      if (fused == null) {
        continue;
      }
      ObjectNode t = targets.putObject(fused.benchmark());
      String label = fused.variant();
      if (fused.speedup() != null) {
        t.put("speedupVsLibtorch", fused.speedup());
        out.append(String.format(Locale.ROOT, "- %s: %.2f× faster than libtorch (target ≥ 3×): %s%n", label,
            fused.speedup(), fused.speedup() >= 3 ? "met" : "MISSED"));
      }
      if (torch != null && torch.peakExtraBytes() > 0 && fused.peakExtraBytes() >= 0) {
        double ratio = fused.peakExtraBytes() / (double) torch.peakExtraBytes();
        t.put("peakMemoryVsLibtorch", ratio);
        out.append(String.format(Locale.ROOT, "- %s: peak extra memory %s vs libtorch's %s = %.3f of it (target ≤ 1/3): %s%n",
            label, mib(fused.peakExtraBytes()), mib(torch.peakExtraBytes()), ratio, ratio <= 1.0 / 3 ? "met" : "MISSED"));
      }
      if (!Double.isNaN(fused.fractionOfFloor())) {
        t.put("fractionOfFloor", fused.fractionOfFloor());
        out.append(String.format(Locale.ROOT, "- %s: %s of the bandwidth floor (target ≥ 50%%): %s%n", label,
            percent(fused.fractionOfFloor()), fused.fractionOfFloor() >= 0.5 ? "met" : "MISSED"));
      }
    }
    if (overheadNs != null) {
      targets.put("ffmOverheadNs", overheadNs);
      out.append(String.format(Locale.ROOT, "- FFM overhead per fused call beyond the kernel: %.0f ns (target < 1000 ns): %s%n",
          overheadNs, overheadNs < 1000 ? "met" : "MISSED"));
    }
    if (!cpuRows) {
      // A GPU-only report: no CPU targets, no speedup line.
      targets.put("note", "CUDA results only");
    } else if (sep != null && sep.speedup() != null) {
      out.append(String.format(Locale.ROOT, "%nfused/libtorch speedup at 8x512x32000 fp32: %.2f%n", sep.speedup()));
    } else {
      out.append("\nfused/libtorch speedup at 8x512x32000 fp32: n/a (not measured in this run)\n");
    }

    ObjectNode result = json.createObjectNode();
    result.put("date", opt.get("date"));
    result.put("machine", opt.get("machine"));
    result.put("cpu", cpu);
    result.put("cpus", cpus);
    result.put("memoryGiB", memoryGiB());
    result.put("jdk", jdk);
    result.put("command", opt.get("command"));
    result.put("loadAverageBefore", opt.get("load-before"));
    result.put("loadAverageAfter", opt.get("load-after"));
    if (opt.containsKey("elapsed")) {
      result.put("benchmarkSeconds", Long.parseLong(opt.get("elapsed")));
    }
    result.put("floorDefinition", "bytes the kernel must move (fused forward+backward: logits read twice + gradient "
        + "written once; forward and sequence log-probs: logits read once) / copy bandwidth of glibc memcpy of the "
        + "same number of bytes in the same run ((read + write) / time, faster of 1 and 2 threads)");
    result.put("memoryMethod", "peak RSS (VmHWM after clear_refs 5) minus RSS at the start of each measurement "
        + "iteration, max over iterations, in the variant's own fork; plus outputs allocated once in setup "
        + "(the fused separate gradient buffer)");
    ArrayNode rowArray = result.putArray("rows");
    for (Row row : rows) {
      ObjectNode o = rowArray.addObject();
      o.put("benchmark", row.benchmark());
      o.put("variant", row.variant());
      o.put("shape", row.shape());
      o.put("dtype", row.dtype());
      o.put("medianSeconds", row.seconds());
      o.put("samples", row.samples());
      o.put("tokensPerSecond", row.tokensPerSecond());
      o.put("floorBytes", row.floorBytes());
      o.put("effectiveGBps", row.gbPerSecond());
      o.put("copyGBps", row.copyBandwidth() / 1e9);
      o.put("fractionOfFloor", row.fractionOfFloor());
      if (row.speedup() != null) {
        o.put("speedupVsLibtorch", row.speedup());
      }
      o.put("peakExtraBytes", row.peakExtraBytes());
    }
    if (overheadNs != null) {
      result.put("ffmOverheadBeyondKernelNs", overheadNs);
    }
    result.set("targets", targets);
    result.put("table", out.toString());
    // JMH's results without the per-sample histograms (megabytes; the percentiles stay).
    for (JsonNode r : jmh) {
      ((ObjectNode) r.get("primaryMetric")).remove("rawDataHistogram");
      ((ObjectNode) r.get("primaryMetric")).remove("rawData");
    }
    result.set("jmh", jmh);
    Path target = Path.of(opt.get("out"));
    Files.createDirectories(target.toAbsolutePath().getParent());
    json.writeValue(target.toFile(), result);
    System.out.print(out);
  }

  private static Map<String, Long> readSidecar(ObjectMapper json, String file) throws IOException {
    Map<String, Long> out = new HashMap<>();
    if (file == null || !Files.exists(Path.of(file))) {
      return out;
    }
    for (String line : Files.readAllLines(Path.of(file))) {
      if (line.isBlank()) {
        continue;
      }
      JsonNode n = json.readTree(line);
      String k = n.get("benchmark").asText() + " " + n.path("params").path("shape").asText("null") + " "
          + n.path("params").path("dtype").asText("null");
      out.merge(k, n.get("peakExtraBytes").asLong(), Math::max);
    }
    return out;
  }

  /** The sidecar's peak extra memory of a benchmark keyed by its shape alone (the head benchmarks have no dtype). */
  private static long headMemory(Map<String, Long> memory, JsonNode r) {
    return memory.getOrDefault(r.get("benchmark").asText() + " " + param(r, "shape") + " null", -1L);
  }

  private static String key(JsonNode r) {
    return shortName(r) + " " + param(r, "shape") + " " + param(r, "dtype");
  }

  static String shortName(JsonNode r) {
    String[] parts = r.get("benchmark").asText().split("\\.");
    return parts[parts.length - 2] + "." + parts[parts.length - 1];
  }

  static String param(JsonNode r, String name) {
    JsonNode p = r.path("params").get(name);
    return p == null ? null : p.asText();
  }

  /** Median time per call in seconds: p50 of the samples (SampleTime) or of the iteration means (AverageTime). */
  static double seconds(JsonNode r) {
    JsonNode metric = r.get("primaryMetric");
    double value = metric.path("scorePercentiles").path("50.0").asDouble(metric.get("score").asDouble());
    String unit = metric.get("scoreUnit").asText();
    return value * switch (unit.substring(0, unit.indexOf('/'))) {
      case "s" -> 1.0;
      case "ms" -> 1e-3;
      case "us" -> 1e-6;
      case "ns" -> 1e-9;
      default -> throw new IllegalArgumentException("unit " + unit);
    };
  }

  static long samples(JsonNode r) {
    JsonNode histogram = r.get("primaryMetric").get("rawDataHistogram");
    long n = 0;
    if (histogram != null) {
      for (JsonNode fork : histogram) {
        for (JsonNode iteration : fork) {
          for (JsonNode bucket : iteration) {
            n += bucket.get(1).asLong();
          }
        }
      }
    }
    return n;
  }

  private static JsonNode find(JsonNode jmh, String name) {
    for (JsonNode r : jmh) {
      if (shortName(r).equals(name)) {
        return r;
      }
    }
    return null;
  }

  private static Row row(List<Row> rows, String benchmark, String shape, String dtype) {
    for (Row r : rows) {
      if (r.benchmark().equals(benchmark) && r.shape().equals(shape) && r.dtype().equals(dtype)) {
        return r;
      }
    }
    return null;
  }

  static boolean isCopy(String name) {
    return name.startsWith("CopyBench.") || name.equals("CudaLossBench.copy");
  }

  static String device(String name) {
    return name.startsWith("CudaLossBench.") ? "cuda" : "cpu";
  }

  /** Logits passes the variant must make at least (2 reads + 1 write for a training call). */
  static int reads(String name) {
    return name.endsWith("forwardBackward") || name.endsWith("forwardBackwardInPlace") ? 3 : 1;
  }

  static String variant(String name) {
    return switch (name) {
      case "FusedCpuBench.forwardBackward" -> "fused fwd+bwd";
      case "FusedCpuBench.forwardBackwardInPlace" -> "fused fwd+bwd, in place";
      case "FusedCpuBench.forward" -> "fused forward (evaluate)";
      case "FusedCpuBench.sequenceLogProbs" -> "fused sequence log-probs";
      case "LibtorchBench.forwardBackward" -> "libtorch fwd+bwd (eager + autograd)";
      case "LibtorchBench.forward" -> "libtorch forward (no grad)";
      case "CopyBench.copy" -> "memcpy probe, 1 thread";
      case "CopyBench.copyTwoThreads" -> "memcpy probe, 2 threads";
      case "FfmOverheadBench.emptyDowncall" -> "empty downcall (grpo4j_abi_version)";
      case "FfmOverheadBench.rawKernel" -> "raw downcall of grpo4j_loss_forward_backward";
      case "FfmOverheadBench.groupRobustLoss" -> "GroupRobustLoss.forwardBackward";
      case "TrainingStepBench.fusedLoss" -> "fused loss (in place)";
      case "TrainingStepBench.libtorchLoss" -> "libtorch loss (autograd)";
      case "CudaLossBench.forwardBackward" -> "CUDA fused fwd+bwd";
      case "CudaLossBench.forwardBackwardInPlace" -> "CUDA fused fwd+bwd, in place";
      case "CudaLossBench.forward" -> "CUDA fused forward (evaluate)";
      case "CudaLossBench.sequenceLogProbs" -> "CUDA fused sequence log-probs";
      case "CudaLossBench.copy" -> "CUDA device-to-device copy probe";
      case "FusedHeadBench.libtorchAutograd" -> "(a) libtorch linear + libtorch loss, autograd";
      case "FusedHeadBench.libtorchLinearFusedLoss" -> "(b) libtorch linear + grpo4j's fused logits loss";
      case "FusedHeadBench.fusedHead" -> "(c) grpo4j's fused head";
      case "FusedHeadBench.fusedHeadRecomputing" -> "(d) grpo4j's fused head, every chunk recomputed";
      case "QwenTrainingStepBench.wholeLogits" -> "the whole logits (--fused-head off)";
      case "QwenTrainingStepBench.fusedHead" -> "the fused head (--fused-head on)";
      default -> name;
    };
  }

  static String time(double seconds) {
    if (seconds >= 1) {
      return String.format(Locale.ROOT, "%.3f s", seconds);
    }
    if (seconds >= 1e-3) {
      return String.format(Locale.ROOT, "%.2f ms", seconds * 1e3);
    }
    return String.format(Locale.ROOT, "%.1f µs", seconds * 1e6);
  }

  static String si(double value) {
    if (Double.isNaN(value)) {
      return "–";
    }
    if (value >= 1e6) {
      return String.format(Locale.ROOT, "%.2f M", value / 1e6);
    }
    return String.format(Locale.ROOT, "%.1f k", value / 1e3);
  }

  static String percent(double fraction) {
    return Double.isNaN(fraction) ? "–" : String.format(Locale.ROOT, "%.0f%%", 100 * fraction);
  }

  static String mib(long bytes) {
    return bytes < 0 ? "–" : String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
  }

  private static String cpuModel() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).trim();
        }
      }
    } catch (IOException e) {
      return System.getProperty("os.arch");
    }
    return System.getProperty("os.arch");
  }

  private static double memoryGiB() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemTotal:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1048576.0;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return Double.NaN;
    }
    return Double.NaN;
  }
}
