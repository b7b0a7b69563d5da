package dev.grpo4j.cli;

import dev.grpo4j.synthetic.FeatureType;
import dev.grpo4j.synthetic.ImportanceSampling;
import dev.grpo4j.synthetic.LogLinearTrainer;
import dev.grpo4j.synthetic.SyntheticData;
import dev.grpo4j.synthetic.SyntheticExperiment;
import dev.grpo4j.synthetic.SyntheticMethod;
import dev.grpo4j.synthetic.SyntheticReport;
import dev.grpo4j.synthetic.SyntheticSetting;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code grpo4j experiment synthetic}: the paper's synthetic experiment (log-linear policy on the group linear bandit,
 * §5 and SPEC §4), every step through the fused loss. Writes {@code curves.csv}, {@code summary.csv},
 * {@code summary.md} and the figures into the output folder and prints the summary table.
 */
@Command(name = "synthetic",
    sortOptions = false,
    description = {
        "Reproduces the paper's synthetic experiment: a log-linear policy over 8 actions trained on the group linear "
            + "bandit with DPO, IPO, IS-DPO, IS-IPO, GR-DPO, GR-IPO and GR-IPO's closed form, full-batch, every "
            + "loss, group-weight update and gradient from the fused loss. Reports worst-group validation loss "
            + "and max reward error (mean ± std over seeds).",
        ""})
public final class SyntheticCommand implements Callable<Integer> {
  @Spec
  private CommandSpec spec;

  @Option(names = "--setting", defaultValue = "uneven-imbalanced", converter = SettingConverter.class,
      description = "uneven-imbalanced, even-imbalanced or uneven-balanced (default: ${DEFAULT-VALUE}).")
  private SyntheticSetting setting;

  @Option(names = "--seeds", defaultValue = "20",
      description = "Number of seeds, starting at --first-seed (default: ${DEFAULT-VALUE}).")
  private int seeds;

  @Option(names = "--first-seed", defaultValue = "2021",
      description = "First seed; the paper's runs use 2021..2040 (default: ${DEFAULT-VALUE}).")
  private long firstSeed;

  @Option(names = "--out", paramLabel = "DIR",
      description = "Output folder (default: runs/synthetic-<setting>-<timestamp>).")
  private Path out;

  @Option(names = "--methods", split = ",", paramLabel = "METHOD", converter = MethodConverter.class,
      description = "Comma-separated: the paper's DPO, IPO, IS-DPO, IS-IPO, GR-DPO, GR-IPO, GR-IPO-CF (default: these "
          + "seven), or any pair losses under a weighting, [GR-|IS-]LOSS[+LOSS...] (e.g. GR-hinge, IS-aot, "
          + "GR-sigmoid+sft; `grpo4j losses` lists them).")
  private List<SyntheticMethod> methods;

  @Option(names = "--learning-rate", description = "Gradient step size (default: the setting's).")
  private Double learningRate;

  @Option(names = "--beta", description = "The loss's beta (default: the setting's).")
  private Double beta;

  @Option(names = "--eta", description = "Group-weight step size of the GR methods (default: the setting's).")
  private Double eta;

  @Option(names = "--iterations", description = "Full-batch steps (default: the setting's).")
  private Integer iterations;

  @Option(names = "--log-every",
      description = "Evaluate every N steps, plus step 0 and the last (default: iterations / 100).")
  private Integer logEvery;

  @Option(names = "--feature-type", defaultValue = "swapped", converter = FeatureTypeConverter.class,
      description = "Group 1's features: swapped (the paper), same or flipped (default: ${DEFAULT-VALUE}).")
  private FeatureType featureType;

  @Option(names = "--group0-share",
      description = "Share of group 0 in the training pairs (default: the setting's, 0.2 or 0.5).")
  private Double group0Share;

  @Option(names = "--train-pairs", defaultValue = "300", description = "Training pairs (default: ${DEFAULT-VALUE}).")
  private int trainPairs;

  @Option(names = "--eval-pairs", defaultValue = "1000",
      description = "Validation pairs and test states each (default: ${DEFAULT-VALUE}).")
  private int evalPairs;

  @Option(names = "--ridge", defaultValue = "0",
      description = "Ridge lambda of GR-IPO's closed form; 0 is the exact minimiser, as the paper's scripts use "
          + "(default: ${DEFAULT-VALUE}).")
  private double ridge;

  @Option(names = "--is-weighting", defaultValue = "group-mean", converter = IsConverter.class,
      description = "IS-DPO/IS-IPO: group-mean (w_g ∝ 1/N_g on each group's mean loss, the kernel's "
          + "IMPORTANCE_SAMPLING) or per-pair (each pair's loss weighted by w_g ∝ 1/N_g, as the paper's bandit code; "
          + "equal weights on the group means at a smaller step) (default: ${DEFAULT-VALUE}).")
  private ImportanceSampling isWeighting;

  @Option(names = "--threads", defaultValue = "0",
      description = "Worker threads, one run each at a time; 0 uses every core (default: ${DEFAULT-VALUE}).")
  private int threads;

  @Override
  public Integer call() throws IOException, InterruptedException {
    PrintWriter stdout = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    SyntheticExperiment.Config config = config();
    int workers = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
    Path dir = out != null ? out : Path.of("runs", "synthetic-" + setting.id() + "-"
        + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
    Files.createDirectories(dir);
    LogLinearTrainer.Hyper h = config.hyper();
    err.printf(Locale.ROOT, "synthetic %s: %d seeds from %d, methods %s, lr %s, beta %s, eta %s, %d iterations, "
            + "%s features, IS %s, %d worker threads%n", setting.id(), seeds, firstSeed, config.methods(),
        h.learningRate(), h.beta(), h.eta(), h.iterations(), featureType.id(), h.importanceSampling(), workers);
    err.flush();

    int total = config.seeds().size() * config.methods().size();
    AtomicInteger done = new AtomicInteger();
    long started = System.nanoTime();
    SyntheticExperiment.Results results = SyntheticExperiment.run(config, workers, run -> {
      int n = done.incrementAndGet();
      if (n % Math.max(1, total / 10) == 0 || n == total) {
        synchronized (err) {
          err.printf(Locale.ROOT, "  %3d/%d runs done, %.1f s%n", n, total, (System.nanoTime() - started) / 1e9);
          err.flush();
        }
      }
    });
    double trainSeconds = (System.nanoTime() - started) / 1e9;

    List<SyntheticReport.SummaryRow> summary = SyntheticReport.summary(results);
    SyntheticReport.writeSummary(summary, dir.resolve("summary.csv"));
    SyntheticReport.writeCurves(results, dir.resolve("curves.csv"));
    List<Path> figures = SyntheticReport.writeFigures(results, dir, setting.id());
    double seconds = (System.nanoTime() - started) / 1e9;
    String table = SyntheticReport.markdown(summary);
    Files.writeString(dir.resolve("summary.md"), report(config, table, workers, trainSeconds, seconds),
        StandardCharsets.UTF_8);

    stdout.println();
    stdout.printf(Locale.ROOT, "%s, iteration %d, %d seeds (mean ± std over seeds):%n%n", setting.id(),
        h.iterations(), config.seeds().size());
    stdout.print(table);
    stdout.println();
    stdout.printf(Locale.ROOT, "Trained %d runs in %.1f s (%.1f s with the outputs) on %d threads. Wrote %s, %s, %s "
            + "and %s%n", total, trainSeconds, seconds, workers, dir.resolve("summary.csv"), dir.resolve("curves.csv"),
        dir.resolve("summary.md"), figures.stream().map(p -> p.getFileName().toString()).toList());
    stdout.flush();
    return 0;
  }

  SyntheticExperiment.Config config() {
    if (seeds < 1) {
      throw new ParameterException(spec.commandLine(), "--seeds must be at least 1, got " + seeds);
    }
    if (firstSeed < 0 || firstSeed + seeds - 1 > 0xffffffffL) {
      throw new ParameterException(spec.commandLine(), "seeds must lie in [0, 2^32)");
    }
    if (threads < 0) {
      throw new ParameterException(spec.commandLine(), "--threads must be 0 (every core) or more, got " + threads);
    }
    int steps = iterations != null ? iterations : setting.iterations();
    int every = logEvery != null ? logEvery : Math.max(1, steps / 100);
    LogLinearTrainer.Hyper hyper;
    SyntheticData.Spec dataSpec;
    try {
      hyper = new LogLinearTrainer.Hyper(learningRate != null ? learningRate : setting.learningRate(),
          beta != null ? beta : setting.beta(), eta != null ? eta : setting.eta(), steps, every, ridge, isWeighting);
      dataSpec = new SyntheticData.Spec(setting.uneven(), group0Share != null ? group0Share : setting.group0Share(),
          trainPairs, evalPairs);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    List<Long> seedList = new ArrayList<>();
    for (int i = 0; i < seeds; i++) {
      seedList.add(firstSeed + i);
    }
    List<SyntheticMethod> chosen = methods == null || methods.isEmpty()
        ? SyntheticMethod.values() : methods.stream().distinct().toList();
    return new SyntheticExperiment.Config(seedList, chosen, dataSpec, featureType, hyper);
  }

  private String report(SyntheticExperiment.Config config, String table, int workers, double trainSeconds,
                        double seconds) {
    LogLinearTrainer.Hyper h = config.hyper();
    return String.format(Locale.ROOT, """
        # grpo4j synthetic experiment: %s

        Log-linear policy on the paper's group linear bandit (Ramesh et al. 2024, §5), %d seeds (%d..%d), final
        iteration %d. Worst-group validation loss: the larger of the two groups' mean validation loss, in the method's
        own loss (DPO or IPO). Max reward error: the larger of the groups' (r*_g - r_g(pi)) / r*_g on the test states,
        with the policy's arg-max action. Mean ± population std over seeds.

        %s
        ## Settings

        - setting: %s (%s pair collection, group 0 share %s of %d training pairs; %d validation pairs and %d test
          states, groups 50/50); features: %s
        - learning rate %s, beta %s, eta %s, %d iterations, evaluated every %d; closed-form ridge %s;
          IS weighting %s
        - methods: %s; group losses BATCH_MEAN (each group's mean pair loss), CPU kernel, 1 kernel thread per run
        - wall time: %.1f s training on %d threads, %.1f s with the outputs
        """,
        setting.id(), config.seeds().size(), config.seeds().getFirst(), config.seeds().getLast(), h.iterations(),
        table, setting.id(), config.spec().uneven() ? "uneven" : "even", config.spec().group0Share(),
        config.spec().trainPairs(), config.spec().evalPairs(), config.spec().evalPairs(), config.featureType().id(),
        h.learningRate(), h.beta(), h.eta(), h.iterations(), h.logEvery(), h.ridge(), h.importanceSampling(),
        config.methods().stream().map(SyntheticMethod::label).toList(), trainSeconds, workers, seconds);
  }

  static final class SettingConverter implements ITypeConverter<SyntheticSetting> {
    @Override
    public SyntheticSetting convert(String value) {
      return SyntheticSetting.parse(value);
    }
  }

  static final class IsConverter implements ITypeConverter<ImportanceSampling> {
    @Override
    public ImportanceSampling convert(String value) {
      return ImportanceSampling.parse(value);
    }
  }

  static final class MethodConverter implements ITypeConverter<SyntheticMethod> {
    @Override
    public SyntheticMethod convert(String value) {
      return SyntheticMethod.parse(value);
    }
  }

  static final class FeatureTypeConverter implements ITypeConverter<FeatureType> {
    @Override
    public FeatureType convert(String value) {
      String key = value.strip().toLowerCase(Locale.ROOT);
      return Arrays.stream(FeatureType.values()).filter(f -> f.id().equals(key)).findFirst()
          .orElseThrow(() -> new IllegalArgumentException("unknown feature type '" + value + "'; choose from "
              + Arrays.stream(FeatureType.values()).map(FeatureType::id).toList()));
    }
  }
}
