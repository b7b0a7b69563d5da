package dev.grpo4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.FDivergence;
import dev.grpo4j.GroupNormalization;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LossTerm;
import dev.grpo4j.PairLoss;
import dev.grpo4j.Weighting;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The losses by name in a run's settings: what they build, how runs name them, and refusals that name the flag. */
class LossSpecTest {
  private static LossSpec spec(List<String> names, List<Double> weights, Weighting weighting, double eps,
                               boolean ipoLength, LossParameters parameters) {
    return new LossSpec(null, 0.1, 0.01, 1, 0, GroupNormalization.BATCH_MEAN, eps, ipoLength, null,
        new LossTerms(names, weights, weighting), parameters);
  }

  private static String refusal(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  @Test
  void namedLossesBuildTheirTermsAndName() {
    LossSpec s = spec(List.of("hinge", "sft"), List.of(1.0, 0.25), null, 0, false, null);
    assertEquals(List.of(new LossTerm(PairLoss.named("hinge"), 1.0), new LossTerm(PairLoss.named("sft"), 0.25)),
        s.terms());
    assertEquals(Weighting.ROBUST, s.weighting());
    assertEquals("GR-hinge+0.25*sft", s.label());
    assertTrue(s.usesReference());
    assertEquals(false, spec(List.of("simpo"), null, Weighting.AVERAGE, 0, false, null).usesReference());
    assertEquals("simpo", spec(List.of("simpo"), null, Weighting.AVERAGE, 0, false, null).label());
    try (GroupRobustLoss loss = spec(List.of("ipo"), null, null, 0, false, null).lossBuilder().groups(2).build()) {
      assertEquals(List.of(new LossTerm(PairLoss.named("ipo"), 1.0)), loss.losses());
    }
    assertEquals(LossSpec.of(Method.GR_DPO).terms(), List.of(new LossTerm(PairLoss.named("sigmoid"), 1.0)));
  }

  @Test
  void refusalsNameTheFlagToFix() {
    assertTrue(refusal(() -> spec(List.of("nope"), null, null, 0, false, null)).startsWith("--loss nope: no loss"));
    assertTrue(refusal(() -> spec(List.of("hinge"), null, null, 0.1, false, null)).contains("--label-smoothing"));
    assertTrue(refusal(() -> spec(List.of("exo_pair"), null, null, 0, false, null)).contains("--label-smoothing > 0"));
    assertTrue(refusal(() -> spec(List.of("hinge"), null, null, 0, true, null))
        .contains("--ipo-length-normalization"));
    assertTrue(refusal(() -> spec(List.of("bco_pair"), null, null, 0, false,
        new LossParameters(FDivergence.FORWARD_KL, 0.5, 0.05, 0.5))).contains("--f-divergence forward_kl"));
    assertTrue(refusal(() -> spec(List.of("hinge", "sft"), List.of(1.0), null, 0, false, null))
        .contains("--loss-weights"));
    assertTrue(refusal(() -> new LossParameters(FDivergence.REVERSE_KL, 0.5, 0, 0.5)).contains("--discopop-tau"));
    assertTrue(refusal(() -> new LossSpec(Method.GR_DPO, 0.1, 0.01, 1, 0, GroupNormalization.BATCH_MEAN, 0, false,
        null, new LossTerms(List.of("hinge"), null, null), null)).contains("exclude each other"));
  }
}
