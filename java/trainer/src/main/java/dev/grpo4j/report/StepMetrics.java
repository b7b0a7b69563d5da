package dev.grpo4j.report;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.UncheckedIOException;
import java.util.Arrays;

/**
 * One optimiser step, as one line of a run's {@code metrics.jsonl} (see {@link RunLog} for the folder layout):
 *
 * <pre>{@code {"step":12,"epoch":0.375,"loss":0.61,"group_losses":[0.58,null,0.71],"group_weights":[0.3,0.3,0.4],
 * "lr":1.0E-5,"tokens_per_second":5120.0,"grad_norm":1.25}}</pre>
 *
 * <p>Fields are written in this order, on one line, without spaces. Any non-finite value (NaN, and also an
 * infinite loss, which JSON cannot hold either) is written as {@code null}; {@code null} reads back as NaN.
 * Arrays are copied in and out, and {@link #equals} compares them by content (NaN equal to NaN).
 *
 * @param step 1-based optimiser step ({@code >= 0})
 * @param epoch passes over the training data so far, fractional within an epoch
 * @param loss the objective of the step (for GR-DPO the group-weighted loss)
 * @param groupLosses mean pair loss {@code L_g} of each group in the step's batch; NaN for a group absent from it
 * @param groupWeights group weights {@code w_g} after the step's update (for a non-robust method, whatever weights
 *     the loss used, e.g. each group's share of the batch)
 * @param lr learning rate used for the step
 * @param tokensPerSecond training throughput over the step
 * @param gradNorm norm of the gradient before clipping; NaN if not measured
 */
@JsonPropertyOrder({"step", "epoch", "loss", "group_losses", "group_weights", "lr", "tokens_per_second",
    "grad_norm"})
public record StepMetrics(
    @JsonProperty("step") int step,
    @JsonProperty("epoch") double epoch,
    @JsonProperty("loss") double loss,
    @JsonProperty("group_losses") double[] groupLosses,
    @JsonProperty("group_weights") double[] groupWeights,
    @JsonProperty("lr") double lr,
    @JsonProperty("tokens_per_second") double tokensPerSecond,
    @JsonProperty("grad_norm") double gradNorm) {

  /**
   * Checks and copies the arrays.
   *
   * @throws IllegalArgumentException if {@code step < 0} or the two arrays differ in length
   */
  public StepMetrics {
    if (step < 0) {
      throw new IllegalArgumentException("step = " + step + ": must be >= 0");
    }
    if (groupLosses == null || groupWeights == null) {
      throw new IllegalArgumentException("group_losses and group_weights are required");
    }
    if (groupLosses.length != groupWeights.length) {
      throw new IllegalArgumentException("group_losses has " + groupLosses.length + " entries but group_weights "
          + groupWeights.length + ": both need one per group");
    }
    groupLosses = groupLosses.clone();
    groupWeights = groupWeights.clone();
  }

  /** Reads one {@code metrics.jsonl} line; {@link RunLog#readMetrics(java.nio.file.Path)} adds file and line. */
  public static StepMetrics fromJson(String line) throws JsonProcessingException {
    return RunJson.MAPPER.readValue(line, StepMetrics.class);
  }

  /** This step as one {@code metrics.jsonl} line, without the line break. */
  public String toJson() {
    try {
      return RunJson.MAPPER.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException("StepMetrics could not be written as JSON", e);
    }
  }

  /** Number of groups. */
  public int numberOfGroups() {
    return groupLosses.length;
  }

  @Override
  public double[] groupLosses() {
    return groupLosses.clone();
  }

  @Override
  public double[] groupWeights() {
    return groupWeights.clone();
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof StepMetrics s && step == s.step && Double.compare(epoch, s.epoch) == 0
        && Double.compare(loss, s.loss) == 0 && Arrays.equals(groupLosses, s.groupLosses)
        && Arrays.equals(groupWeights, s.groupWeights) && Double.compare(lr, s.lr) == 0
        && Double.compare(tokensPerSecond, s.tokensPerSecond) == 0 && Double.compare(gradNorm, s.gradNorm) == 0;
  }

  @Override
  public int hashCode() {
    int h = Integer.hashCode(step);
    h = 31 * h + Double.hashCode(epoch);
    h = 31 * h + Double.hashCode(loss);
    h = 31 * h + Arrays.hashCode(groupLosses);
    h = 31 * h + Arrays.hashCode(groupWeights);
    h = 31 * h + Double.hashCode(lr);
    h = 31 * h + Double.hashCode(tokensPerSecond);
    return 31 * h + Double.hashCode(gradNorm);
  }

  @Override
  public String toString() {
    return "StepMetrics" + toJson();
  }
}
