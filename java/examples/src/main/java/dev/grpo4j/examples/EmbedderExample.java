package dev.grpo4j.examples;

import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.GroupWeightState;
import dev.grpo4j.LossResult;
import dev.grpo4j.LossType;
import dev.grpo4j.PreferenceBatch;
import dev.grpo4j.TokenLogits;
import dev.grpo4j.Weighting;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * grpo4j-core in someone else's training loop, from plain Java arrays: the "model" is a table of free logits
 * (one per pair, position and vocabulary entry) trained by gradient descent on the GR-DPO loss. Each step builds a
 * {@link PreferenceBatch} from the arrays, gets the objective, the per-group losses, the updated group weights and
 * {@code dJ/dlogits} from one call, and applies the gradient in Java. Halfway the group-weight state is written to a
 * checkpoint file; a second loss restored from it continues exactly where the first one was.
 *
 * <p>Run: {@code java --module-path <core jar>:<this jar> --enable-native-access=dev.grpo4j.core -m
 * dev.grpo4j.examples/dev.grpo4j.examples.EmbedderExample [checkpoint-file]}
 */
public final class EmbedderExample {
  static final int PAIRS = 6;
  static final int SEQ_LEN = 3;
  static final int VOCAB = 11;
  static final int GROUPS = 3;
  static final int STEPS = 20;
  static final float LEARNING_RATE = 5f;

  private EmbedderExample() {}

  /**
   * Trains, checkpoints at the middle, restores and finishes; prints one line per step and the final weights.
   *
   * @param args an optional checkpoint file (default: a temporary file)
   */
  public static void main(String[] args) throws IOException {
    Path checkpoint = args.length > 0 ? Path.of(args[0]) : Files.createTempFile("grpo4j-weights", ".txt");
    System.out.println(run(checkpoint, true));
  }

  /**
   * The whole example; returns the final robust weights as text, e.g. for a test to compare.
   *
   * @param throughCheckpoint stop halfway, write the state to {@code checkpoint}, and continue with a new loss
   *     restored from it; otherwise one loss does every step
   */
  static String run(Path checkpoint, boolean throughCheckpoint) throws IOException {
    Random random = new Random(7);
    float[] logits = new float[2 * PAIRS * SEQ_LEN * VOCAB];
    for (int i = 0; i < logits.length; i++) {
      logits[i] = (float) random.nextGaussian();
    }
    long[] labels = new long[2 * PAIRS * SEQ_LEN];
    for (int p = 0; p < labels.length; p++) {
      // The first position of every row is prompt: masked.
      labels[p] = p % SEQ_LEN == 0 ? TokenLogits.IGNORE_INDEX : random.nextInt(VOCAB);
    }
    float[] refLogps = new float[2 * PAIRS];
    Arrays.fill(refLogps, (float) (-(SEQ_LEN - 1) * Math.log(VOCAB)));
    int[] groupIds = {0, 0, 0, 0, 1, 2};   // group 0 is the majority
    long[] groupSizes = {600, 150, 50};   // pairs per group in the whole (imaginary) training set

    String finalWeights = null;
    int phases = throughCheckpoint ? 2 : 1;
    for (int phase = 0; phase < phases; phase++) {
      try (GroupRobustLoss loss = GroupRobustLoss.builder()
          .lossType(LossType.DPO).beta(0.5)
          .weighting(Weighting.ROBUST).eta(0.5)
          .groupSizes(groupSizes)
          .build()) {
        if (phase == 1) {
          loss.restoreState(readState(checkpoint));
        }
        int from = phase == 0 ? 1 : STEPS / 2 + 1;
        int to = phases == 2 && phase == 0 ? STEPS / 2 : STEPS;
        for (int step = from; step <= to; step++) {
          try (Arena arena = Arena.ofConfined()) {
            PreferenceBatch batch = PreferenceBatch.builder(PAIRS, SEQ_LEN, VOCAB)
                .logits(logits).labels(labels).refLogps(refLogps).groupIds(groupIds).build(arena);
            MemorySegment grad = arena.allocate(batch.tokens().logitsBytes(), 64);
            LossResult r = loss.forwardBackward(batch, grad);
            float[] g = grad.toArray(ValueLayout.JAVA_FLOAT);
            for (int i = 0; i < logits.length; i++) {
              logits[i] -= LEARNING_RATE * g[i];
            }
            System.out.printf(Locale.ROOT, "step %2d  J %.4f  group losses %s  weights %s%n", step, r.loss(),
                format(r.groupLosses()), format(r.objectiveWeights()));
          }
        }
        if (to < STEPS) {
          GroupWeightState state = loss.state();
          writeState(checkpoint, state);
          System.out.println("checkpoint: " + checkpoint + " (" + state + ")");
        } else {
          finalWeights = format(loss.alpha());
        }
      }
    }
    return "final robust weights " + finalWeights;
  }

  /** The state as text, one log-weight per line and the step count last: what a trainer's checkpoint would hold. */
  static void writeState(Path file, GroupWeightState state) throws IOException {
    StringBuilder text = new StringBuilder();
    for (double logAlpha : state.logAlpha()) {
      text.append(Double.toString(logAlpha)).append('\n');
    }
    text.append(state.steps()).append('\n');
    Files.writeString(file, text, StandardCharsets.UTF_8);
  }

  static GroupWeightState readState(Path file) throws IOException {
    String[] lines = Files.readString(file, StandardCharsets.UTF_8).strip().split("\n");
    double[] logAlpha = new double[lines.length - 1];
    for (int g = 0; g < logAlpha.length; g++) {
      logAlpha[g] = Double.parseDouble(lines[g]);
    }
    return new GroupWeightState(logAlpha, Long.parseLong(lines[lines.length - 1]));
  }

  private static String format(float[] values) {
    double[] wide = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      wide[i] = values[i];
    }
    return format(wide);
  }

  private static String format(double[] values) {
    StringBuilder s = new StringBuilder("[");
    for (int i = 0; i < values.length; i++) {
      s.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.4f", values[i]));
    }
    return s.append(']').toString();
  }
}
