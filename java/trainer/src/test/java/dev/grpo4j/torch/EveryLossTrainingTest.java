package dev.grpo4j.torch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.FDivergence;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LossResult;
import dev.grpo4j.LossTerm;
import dev.grpo4j.PairLoss;
import dev.grpo4j.Weighting;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Models;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.testing.Close;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every pair loss of the table (and a mixture, an f-divergence) trains a built-in tiny transformer the same through
 * both routes: the fused LM head in chunks of 7 positions and the whole logits, three AdamW steps from the same
 * weights on the same batches, under robust group weights (and the sorting losses under the plain average too, where
 * the fused head must work through every chunk twice).
 */
class EveryLossTrainingTest {
  private static final int STEPS = 3;
  private static final double LEARNING_RATE = 1e-3;

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (PairLoss loss : PairLoss.all()) {
      out.add(Arguments.of(loss.name(), List.of(new LossTerm(loss, 1.0)), FDivergence.REVERSE_KL, Weighting.ROBUST));
      if (loss.sortsWithinGroup()) {
        out.add(Arguments.of(loss.name(), List.of(new LossTerm(loss, 1.0)), FDivergence.REVERSE_KL,
            Weighting.AVERAGE));
      }
    }
    out.add(Arguments.of("sigmoid+0.2*sft", List.of(new LossTerm(PairLoss.named("sigmoid"), 1.0),
        new LossTerm(PairLoss.named("sft"), 0.2)), FDivergence.REVERSE_KL, Weighting.IMPORTANCE_SAMPLING));
    out.add(Arguments.of("sigmoid_norm", List.of(new LossTerm(PairLoss.named("sigmoid_norm"), 1.0)),
        FDivergence.JS_DIVERGENCE, Weighting.ROBUST));
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {2} {3}")
  @MethodSource("cases")
  void fusedHeadTrainsLikeTheWholeLogits(String name, List<LossTerm> terms, FDivergence f, Weighting weighting) {
    long[] groupSizes = {14, 4, 8};
    ModelConfig config = ModelConfig.tiny("tiny-llama", 257);
    TransformerLm fusedModel = Models.random(config, 42);
    TransformerLm wholeModel = Models.random(config, 42);
    double[] initial = FusedHeadTrainingTest.parameters(wholeModel);
    try (GroupRobustLoss fusedLoss = build(terms, f, weighting, groupSizes);
         GroupRobustLoss wholeLoss = build(terms, f, weighting, groupSizes)) {
      EncodedPairs data = FusedVersusLibtorchTrainingTest.scored(Models.random(config, 43),
          FusedVersusLibtorchTrainingTest.randomTokenPairs(new Random(7)));
      Twins twins = Twins.of(fusedModel, fusedLoss, wholeModel, wholeLoss, LEARNING_RATE);
      PreferenceTrainer fused = twins.fused();
      PreferenceTrainer whole = twins.whole();
      Random batches = new Random(13);
      for (int step = 0; step < STEPS; step++) {
        int[] pairs = FusedVersusLibtorchTrainingTest.sample(batches, data.size());
        LossResult a = fused.step(data, pairs);
        LossResult b = whole.step(data, pairs);
        String where = name + " " + f + " " + weighting + " step " + step;
        Close.assertClose(where + " J", new double[] {a.loss()}, new double[] {b.loss()}, 1e-5, 1e-4);
        Close.assertClose(where + " pair losses", a.pairLosses(), Close.widen(b.pairLosses()), 1e-5, 1e-4);
        Close.assertClose(where + " weights", a.objectiveWeights(), Close.widen(b.objectiveWeights()), 1e-5, 1e-4);
      }
      double[] fusedParameters = FusedHeadTrainingTest.parameters(fusedModel);
      double[] wholeParameters = FusedHeadTrainingTest.parameters(wholeModel);
      assertTrue(FusedVersusLibtorchTrainingTest.distance(wholeParameters, initial) > 0, name + ": nothing moved");
      Close.assertClose(name + " trained parameters", fusedParameters, wholeParameters, LEARNING_RATE / 10, 1e-4);
    }
  }

  private static GroupRobustLoss build(List<LossTerm> terms, FDivergence f, Weighting weighting, long[] groupSizes) {
    boolean smoothing = terms.stream().anyMatch(t -> t.loss().needsLabelSmoothing());
    return GroupRobustLoss.builder().losses(terms).fDivergence(f).labelSmoothing(smoothing ? 1e-3 : 0)
        .ipoLengthNormalization(terms.stream().anyMatch(t -> t.loss().name().equals("ipo")))
        .weighting(weighting).eta(1).groupSizes(groupSizes).build();
  }
}
