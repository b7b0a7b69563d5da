package dev.grpo4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.grpo4j.testing.TestSeed;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Every loss of the native table against TRL 1.13 itself (TrlGoldens): the per-pair values and derivatives, the
 * sorting losses over a batch, each weighting's objective and row gradients built from them, on every backend here
 * (CUDA where a device, or the CUDA emulation, is present); and every loss against the REFERENCE backend on random
 * inputs.
 */
class PairLossGoldenTest {
  private static final Map<TrlGoldens.Setting, List<TrlGoldens.Row>> GOLDENS = TrlGoldens.read();
  /** grpo4j's sigmoid applies label smoothing as conservative DPO; TRL 1.13's sigmoid ignores it. */
  private static final String CDPO = "sigmoid";

  static List<Backend> backends() {
    List<Backend> backends = new ArrayList<>(List.of(Backend.CPU, Backend.REFERENCE));
    if (GroupRobustLoss.cudaAvailable()) {
      backends.add(Backend.CUDA);
    }
    return backends;
  }

  /** Collects mismatches over many cases; fails once with the count and the first few. */
  private static final class Mismatches {
    private final List<String> first = new ArrayList<>();
    private int count;
    private int compared;

    void check(String what, double actual, double expected, double atol, double rtol) {
      compared++;
      if (!(Math.abs(actual - expected) <= atol + rtol * Math.abs(expected))) {
        if (first.size() < 12) {
          first.add(String.format("%s: got %.10g, want %.10g", what, actual, expected));
        }
        count++;
      }
    }

    void assertNone() {
      assertTrue(compared > 0, "nothing was compared");
      if (count > 0) {
        fail(count + " of " + compared + " values differ; first:\n  " + String.join("\n  ", first));
      }
    }
  }

  /** The loss of a golden setting, or null where grpo4j refuses it or means something else by it. */
  static GroupRobustLoss.Builder builder(TrlGoldens.Setting s) {
    List<PairLoss> known = PairLoss.all();
    List<LossTerm> terms = new ArrayList<>();
    double[] weights = s.weightValues();
    List<String> names = s.lossNames();
    for (int t = 0; t < names.size(); t++) {
      String name = names.get(t);
      if (known.stream().noneMatch(l -> l.name().equals(name))) {
        return null;
      }
      terms.add(new LossTerm(PairLoss.named(name), weights[t]));
    }
    boolean readsEps = terms.stream().anyMatch(t -> t.loss().usesLabelSmoothing());
    boolean readsTau = terms.stream().anyMatch(t -> t.loss().usesDiscopopTau());
    boolean allTakeF = terms.stream().allMatch(t -> t.loss().takesFDivergence());
    if ((s.eps() != 0 && (!readsEps || names.contains(CDPO))) || (s.tau() != 0.05 && !readsTau)
        || (!s.fdiv().equals("reverse_kl") && !allTakeF)) {
      return null;
    }
    return GroupRobustLoss.builder().losses(terms).beta(s.beta()).labelSmoothing(s.eps())
        .ipoLengthNormalization(names.contains("ipo")).fDivergence(FDivergence.named(s.fdiv()))
        .alphaDivergence(s.alpha()).discopopTau(s.tau()).simpoGamma(s.gamma());
  }

  private static boolean sorts(TrlGoldens.Setting s) {
    return s.lossNames().stream().anyMatch(n -> PairLoss.all().stream()
        .anyMatch(l -> l.name().equals(n) && l.sortsWithinGroup()));
  }

  private static double atol(TrlGoldens.Setting s) {
    return s.dtype().equals("float64") ? 1e-6 : 1e-4;
  }

  private static double rtol(TrlGoldens.Setting s) {
    return s.dtype().equals("float64") ? 1e-5 : 1e-4;
  }

  static SequenceBatch sequences(List<TrlGoldens.Row> rows, int[] groupIds) {
    int b = rows.size();
    float[] logps = new float[2 * b];
    float[] ref = new float[2 * b];
    int[] counts = new int[2 * b];
    for (int i = 0; i < b; i++) {
      TrlGoldens.Row r = rows.get(i);
      logps[i] = (float) r.sw();
      logps[b + i] = (float) r.sl();
      ref[i] = (float) r.refw();
      ref[b + i] = (float) r.refl();
      counts[i] = r.nw();
      counts[b + i] = r.nl();
    }
    return new SequenceBatch(logps, counts, ref, groupIds);
  }

  @Test
  void everyLossOfTheTableHasGoldens() {
    Set<String> golden = GOLDENS.keySet().stream().flatMap(s -> s.lossNames().stream())
        .collect(Collectors.toCollection(TreeSet::new));
    List<String> missing = PairLoss.all().stream().map(PairLoss::name).filter(n -> !golden.contains(n)).toList();
    assertEquals(List.of(), missing, "losses without TRL goldens");
    Set<String> table = PairLoss.all().stream().map(PairLoss::name).collect(Collectors.toSet());
    assertEquals(List.of(), golden.stream().filter(n -> !table.contains(n)).toList(), "TRL losses grpo4j lacks");
  }

  @Test
  void pairValuesMatchTrl() {
    for (Backend backend : backends()) {
      Mismatches m = new Mismatches();
      for (var e : GOLDENS.entrySet()) {
        TrlGoldens.Setting s = e.getKey();
        GroupRobustLoss.Builder builder = builder(s);
        if (!s.kind().equals("pair") || builder == null) {
          continue;
        }
        List<TrlGoldens.Row> rows = e.getValue();
        int b = rows.size();
        // Three groups, one of a single pair: a pair's loss must not depend on its group or batch (the sorting
        // losses, whose pairs TRL scored alone, are called pair by pair).
        List<List<TrlGoldens.Row>> calls = sorts(s) ? rows.stream().map(List::of).toList() : List.of(rows);
        try (GroupRobustLoss loss = builder.groups(3).weighting(Weighting.AVERAGE).backend(backend).build()) {
          for (List<TrlGoldens.Row> call : calls) {
            int[] groups = new int[call.size()];
            for (int i = 0; i < groups.length; i++) {
              groups[i] = call.size() == 1 ? 0 : (i == b - 1 ? 2 : i % 2);
            }
            LossStatistics stats = loss.statistics(sequences(call, groups));
            float[] values = stats.pairLosses();
            double[] d = stats.pairLossGradients();
            int k = call.size();
            for (int i = 0; i < k; i++) {
              TrlGoldens.Row r = call.get(i);
              String where = backend + " " + s + " pair " + r.pair();
              if (!Double.isFinite(r.value())) {
                continue;  // TRL's own inf * 0 or an empty cross-entropy; grpo4j stays finite there
              }
              if (Math.abs(r.value()) <= Float.MAX_VALUE) {  // the pair outputs are float32
                m.check(where + " loss", values[i], r.value(), atol(s), rtol(s));
              }
              if (r.nw() > 0) {
                m.check(where + " dl/ds_w", d[i], r.dsw(), atol(s), rtol(s));
              }
              if (r.nl() > 0) {
                m.check(where + " dl/ds_l", d[k + i], r.dsl(), atol(s), rtol(s));
              }
            }
          }
        }
      }
      m.assertNone();
    }
  }

  /** The batch rows of the sorting losses (TRL sorts over its batch): all pairs in one group, the plain mean. */
  @Test
  void sortingLossesMatchTrlOverABatch() {
    for (Backend backend : backends()) {
      Mismatches m = new Mismatches();
      for (var e : GOLDENS.entrySet()) {
        TrlGoldens.Setting s = e.getKey();
        GroupRobustLoss.Builder builder = builder(s);
        if (!s.kind().equals("batch") || builder == null || !sorts(s)) {
          continue;
        }
        List<TrlGoldens.Row> rows = e.getValue();
        int b = rows.size();
        try (GroupRobustLoss loss = builder.groups(2).weighting(Weighting.AVERAGE).backend(backend).build()) {
          LossStatistics stats = loss.statistics(sequences(rows, new int[b]));
          GroupStep step = loss.groupStep(stats.groupStatistics(), true);
          float[] grad = loss.sequenceGradient(stats, step);
          if (!Double.isFinite(rows.getFirst().value())) {
            continue;
          }
          m.check(backend + " " + s + " J", LossResult.of(stats, step).loss(), rows.getFirst().value(), atol(s),
              rtol(s));
          for (int i = 0; i < b; i++) {
            TrlGoldens.Row r = rows.get(i);
            if (r.nw() > 0) {
              m.check(backend + " " + s + " dJ/ds_w " + i, grad[i], r.dsw(), atol(s), rtol(s));
            }
            if (r.nl() > 0) {
              m.check(backend + " " + s + " dJ/ds_l " + i, grad[b + i], r.dsl(), atol(s), rtol(s));
            }
          }
        }
      }
      m.assertNone();
    }
  }

  /**
   * Every loss under every weighting: J and dJ/ds from the group formulas applied to TRL's values (per pair, or the
   * batch's for the sorting losses), with a group of one pair and an empty group.
   */
  @Test
  void everyWeightingMatchesTheGroupFormulas() {
    long[] sizes = {5, 3, 2, 7};
    for (Backend backend : backends()) {
      Mismatches m = new Mismatches();
      for (var e : GOLDENS.entrySet()) {
        TrlGoldens.Setting s = e.getKey();
        GroupRobustLoss.Builder builder = builder(s);
        boolean sorting = sorts(s);
        if (builder == null || !s.dtype().equals("float64") || s.beta() != 0.1 || s.lossNames().contains("sft")
            || !s.kind().equals(sorting ? "batch" : "pair")
            || (s.eps() != 0 && !(s.eps() == 1e-3 && s.lossNames().contains("exo_pair")))) {
          continue;
        }
        List<TrlGoldens.Row> rows = e.getValue();
        if (rows.stream().anyMatch(r -> !(Math.abs(r.value()) < 1e30))) {
          continue;  // group losses of 1e40 differ from one another below their rounding: the weights are noise
        }
        int b = rows.size();
        int[] groups = new int[b];
        for (int i = 0; i < b; i++) {
          groups[i] = sorting ? 1 : (i == b - 1 ? 2 : i % 2);
        }
        double[] sums = new double[sizes.length];
        double[] dsum = new double[2 * b];
        for (int i = 0; i < b; i++) {
          TrlGoldens.Row r = rows.get(i);
          double share = sorting ? b : 1;  // the batch rows are of TRL's mean over b pairs
          sums[groups[i]] += r.value();
          dsum[i] = share * r.dsw();
          dsum[b + i] = share * r.dsl();
        }
        if (sorting) {
          sums[1] = b * rows.getFirst().value();
        }
        for (Weighting weighting : Weighting.values()) {
          try (GroupRobustLoss loss = builder.groupSizes(sizes).weighting(weighting).eta(0.5).chi(0.8)
              .backend(backend).build()) {
            LossStatistics stats = loss.statistics(sequences(rows, groups));
            GroupStep step = loss.groupStep(stats.groupStatistics(), true);
            float[] grad = loss.sequenceGradient(stats, step);
            double[] coef = new double[sizes.length];
            double want = expectedObjective(weighting, sums, groups, sizes, 0.5, 0.8, coef);
            String where = backend + " " + weighting + " " + s;
            m.check(where + " J", LossResult.of(stats, step).loss(), want, atol(s), rtol(s));
            for (int r = 0; r < 2 * b; r++) {
              TrlGoldens.Row row = rows.get(r % b);
              if ((r < b ? row.nw() : row.nl()) > 0) {
                m.check(where + " dJ/ds row " + r, grad[r], coef[groups[r % b]] * dsum[r], atol(s), rtol(s));
              }
            }
          }
        }
      }
      m.assertNone();
    }
  }

  /** J of the paper's formulas (BATCH_MEAN, no adjustment, first training step), and dJ/dl_i per group. */
  static double expectedObjective(Weighting weighting, double[] sums, int[] groups, long[] sizes, double eta,
                                  double chi, double[] coef) {
    int k = sizes.length;
    int[] count = new int[k];
    for (int g : groups) {
      count[g]++;
    }
    int b = groups.length;
    double[] groupLoss = new double[k];
    for (int g = 0; g < k; g++) {
      groupLoss[g] = count[g] == 0 ? 0 : sums[g] / count[g];
    }
    double[] w = new double[k];
    if (weighting == Weighting.AVERAGE) {
      double j = 0;
      for (int g = 0; g < k; g++) {
        j += sums[g] / b;
        coef[g] = 1.0 / b;
      }
      return j;
    } else if (weighting == Weighting.IMPORTANCE_SAMPLING) {
      double inverse = 0;
      for (long n : sizes) {
        inverse += 1.0 / n;
      }
      for (int g = 0; g < k; g++) {
        w[g] = (1.0 / sizes[g]) / inverse;
      }
    } else {
      double[] logAlpha = new double[k];
      double max = Double.NEGATIVE_INFINITY;
      for (int g = 0; g < k; g++) {
        logAlpha[g] = Math.log(1.0 / k) + eta * groupLoss[g];
        max = Math.max(max, logAlpha[g]);
      }
      double z = 0;
      for (int g = 0; g < k; g++) {
        z += Math.exp(logAlpha[g] - max);
      }
      for (int g = 0; g < k; g++) {
        w[g] = (1 - chi) / k + chi * Math.exp(logAlpha[g] - max - Math.log(z));
      }
    }
    double j = 0;
    for (int g = 0; g < k; g++) {
      j += w[g] * groupLoss[g];
      coef[g] = count[g] == 0 ? 0 : w[g] / count[g];
    }
    return j;
  }

  /**
   * Every loss and f-divergence, alone and mixed, on random awkward pairs in four groups (one of one pair, one
   * empty), against the REFERENCE backend's own formulas; two CPU runs are bit-identical.
   */
  @Test
  void everyLossMatchesTheReferenceOnRandomPairs() {
    long seed = TestSeed.get();
    List<List<LossTerm>> choices = new ArrayList<>();
    for (PairLoss loss : PairLoss.all()) {
      choices.add(List.of(new LossTerm(loss, 1.0)));
    }
    choices.add(List.of(new LossTerm(PairLoss.named("sigmoid"), 1.0), new LossTerm(PairLoss.named("sft"), 0.2)));
    choices.add(List.of(new LossTerm(PairLoss.named("aot_unpaired"), 0.7),
        new LossTerm(PairLoss.named("robust"), -0.3), new LossTerm(PairLoss.named("simpo"), 2)));
    SequenceBatch small = randomBatch(new Random(seed), 23);
    for (List<LossTerm> terms : choices) {
      for (FDivergence f : FDivergence.values()) {
        if (f == FDivergence.REVERSE_KL || terms.stream().allMatch(t -> t.loss().takesFDivergence())) {
          compareWithReference(terms, f, small, seed);
        }
      }
    }
    // Enough pairs that the CUDA kernel keeps its scratch in global memory rather than shared.
    SequenceBatch large = randomBatch(new Random(seed + 1), 1200);
    for (String sorting : List.of("aot", "aot_unpaired")) {
      compareWithReference(List.of(new LossTerm(PairLoss.named(sorting), 1.0)), FDivergence.REVERSE_KL, large, seed);
    }
  }

  /** Random awkward pairs in four groups: group 0 empty, group 3 a single pair, some empty responses, ties. */
  private static SequenceBatch randomBatch(Random rng, int b) {
    float[] logps = new float[2 * b];
    float[] ref = new float[2 * b];
    int[] counts = new int[2 * b];
    int[] groups = new int[b];
    for (int r = 0; r < 2 * b; r++) {
      counts[r] = rng.nextInt(6) == 0 ? 0 : 1 + rng.nextInt(40);
      logps[r] = counts[r] == 0 ? 0 : (float) (-counts[r] * 3 * rng.nextDouble());
      ref[r] = counts[r] == 0 ? 0 : rng.nextInt(8) == 0 ? logps[r] : logps[r] + (float) (rng.nextGaussian() * 4);
    }
    for (int i = 0; i < b; i++) {
      groups[i] = i == 0 ? 3 : 1 + rng.nextInt(2);
    }
    return new SequenceBatch(logps, counts, ref, groups);
  }

  private static void compareWithReference(List<LossTerm> terms, FDivergence f, SequenceBatch batch, long seed) {
    String what = terms + " " + f + " over " + batch.numPairs() + " pairs, seed " + seed;
    double[] expected = run(terms, f, Backend.REFERENCE, batch);
    for (Backend backend : backends()) {
      double[] got = run(terms, f, backend, batch);
      if (backend == Backend.CPU) {
        assertArrayEquals(got, run(terms, f, backend, batch), what + ": two CPU runs differ");
      }
      for (int i = 0; i < got.length; i++) {
        if (!(Math.abs(got[i] - expected[i]) <= 1e-6 + 1e-6 * Math.abs(expected[i]))) {
          fail(what + " on " + backend + ": value " + i + " is " + got[i] + ", the reference's " + expected[i]);
        }
      }
    }
  }

  /** The pair losses and then dl/ds of every row, as one array. */
  private static double[] run(List<LossTerm> terms, FDivergence f, Backend backend, SequenceBatch batch) {
    boolean smooth = terms.stream().anyMatch(t -> t.loss().usesLabelSmoothing());
    try (GroupRobustLoss loss = GroupRobustLoss.builder().losses(terms).fDivergence(f).beta(0.3)
        .labelSmoothing(smooth ? 0.1 : 0).alphaDivergence(0.3).groups(4).backend(backend).build()) {
      LossStatistics stats = loss.statistics(batch);
      float[] values = stats.pairLosses();
      double[] d = stats.pairLossGradients();
      double[] out = new double[values.length + d.length];
      for (int i = 0; i < values.length; i++) {
        out[i] = values[i];
      }
      System.arraycopy(d, 0, out, values.length, d.length);
      return out;
    }
  }
}
