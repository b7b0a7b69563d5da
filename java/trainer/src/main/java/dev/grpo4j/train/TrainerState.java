package dev.grpo4j.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.grpo4j.GroupWeightState;
import dev.grpo4j.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * What a checkpoint holds besides the weights and the optimizer: where the run stands, as {@value #FILE}. Together
 * with the run's {@link TrainConfig} it determines every later step, which is what makes a resumed CPU run
 * bit-identical to an uninterrupted one: the batch order follows from {@code consumedPairs}, the per-step dropout
 * seed from {@code step}, the learning rate from {@code step} and the plateau state.
 *
 * @param step optimiser steps done
 * @param consumedPairs training pairs handed out by the sampler
 * @param groups group names, in id order
 * @param groupLogAlpha the robust loss's log group weights
 * @param groupWeightSteps training calls the loss has made
 * @param plateau reduce-on-plateau state, or null when off
 * @param tokens training tokens seen
 * @param seconds training time so far
 */
public record TrainerState(int step, long consumedPairs, List<String> groups, double[] groupLogAlpha,
                           long groupWeightSteps, PlateauScaler.State plateau, long tokens, double seconds) {
  /** The file in a checkpoint folder. */
  public static final String FILE = "trainer_state.json";

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  public TrainerState {
    groups = List.copyOf(groups);
    groupLogAlpha = groupLogAlpha.clone();
  }

  @Override
  public double[] groupLogAlpha() {
    return groupLogAlpha.clone();
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof TrainerState s && step == s.step && consumedPairs == s.consumedPairs
        && groups.equals(s.groups) && Arrays.equals(groupLogAlpha, s.groupLogAlpha)
        && groupWeightSteps == s.groupWeightSteps && Objects.equals(plateau, s.plateau) && tokens == s.tokens
        && Double.compare(seconds, s.seconds) == 0;
  }

  @Override
  public int hashCode() {
    return Objects.hash(step, consumedPairs, groups, Arrays.hashCode(groupLogAlpha), groupWeightSteps, plateau,
        tokens, seconds);
  }

  @Override
  public String toString() {
    return "TrainerState[step=" + step + ", consumedPairs=" + consumedPairs + ", groups=" + groups
        + ", groupLogAlpha=" + Arrays.toString(groupLogAlpha) + ", groupWeightSteps=" + groupWeightSteps
        + ", plateau=" + plateau + ", tokens=" + tokens + ", seconds=" + seconds + "]";
  }

  public GroupWeightState groupWeightState() {
    return new GroupWeightState(groupLogAlpha, groupWeightSteps);
  }

  public void write(Path folder) throws IOException {
    AtomicFiles.write(folder.resolve(FILE), out -> JSON.writeValue(out, this));
  }

  public static TrainerState read(Path folder) throws IOException {
    Path file = folder.resolve(FILE);
    try {
      return JSON.readValue(file.toFile(), TrainerState.class);
    } catch (IOException e) {
      throw new IOException(file + " is not a valid trainer state: " + e.getMessage(), e);
    }
  }
}
