package dev.grpo4j.synthetic;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * Runs methods x seeds of the synthetic experiment on a thread pool: the data of each seed are drawn once and shared
 * read-only; every (method, seed) run is an independent task with its own {@link dev.grpo4j.GroupRobustLoss} and
 * off-heap buffers, so results do not depend on the number of threads.
 */
public final class SyntheticExperiment {
  private SyntheticExperiment() {}

  /**
   * What to run.
   *
   * @param seeds the seeds (the paper: 2021..2040)
   * @param methods the methods
   * @param spec how the data are collected
   * @param featureType group 1's feature map
   * @param hyper optimisation settings
   */
  public record Config(List<Long> seeds, List<SyntheticMethod> methods, SyntheticData.Spec spec,
                       FeatureType featureType, LogLinearTrainer.Hyper hyper) {
    public Config {
      seeds = List.copyOf(seeds);
      methods = List.copyOf(methods);
      if (seeds.isEmpty() || methods.isEmpty()) {
        throw new IllegalArgumentException("need at least one seed and one method");
      }
    }
  }

  /** The runs of each method, in the order of {@link Config#seeds}. */
  public record Results(Config config, Map<SyntheticMethod, List<LogLinearTrainer.Run>> runs) {}

  /**
   * Runs everything on {@code threads} worker threads; {@code onRunDone} is called (from a worker) after each run.
   */
  public static Results run(Config config, int threads, Consumer<LogLinearTrainer.Run> onRunDone)
      throws InterruptedException {
    GroupLinearBandit env = new GroupLinearBandit(config.featureType());
    List<SeedData> seeds = new ArrayList<>();
    for (long seed : config.seeds()) {
      seeds.add(new SeedData(seed, config.spec(), env));
    }
    Map<SyntheticMethod, List<Future<LogLinearTrainer.Run>>> futures = new LinkedHashMap<>();
    ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads), r -> {
      Thread t = new Thread(r, "grpo4j-synthetic");
      t.setDaemon(true);
      return t;
    });
    try {
      // Longest-first is not needed: every run of a setting takes about the same time. Seed-major order keeps
      // the per-seed data of a few seeds hot at a time.
      for (SeedData seed : seeds) {
        for (SyntheticMethod method : config.methods()) {
          futures.computeIfAbsent(method, m -> new ArrayList<>()).add(pool.submit(() -> {
            LogLinearTrainer.Run run = LogLinearTrainer.run(seed, method, config.hyper());
            if (onRunDone != null) {
              onRunDone.accept(run);
            }
            return run;
          }));
        }
      }
      Map<SyntheticMethod, List<LogLinearTrainer.Run>> runs = new LinkedHashMap<>();
      for (SyntheticMethod method : config.methods()) {
        List<LogLinearTrainer.Run> list = new ArrayList<>();
        for (Future<LogLinearTrainer.Run> f : futures.get(method)) {
          list.add(f.get());
        }
        runs.put(method, List.copyOf(list));
      }
      return new Results(config, runs);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException re) {
        throw re;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException(cause);
    } finally {
      pool.shutdownNow();
    }
  }
}
