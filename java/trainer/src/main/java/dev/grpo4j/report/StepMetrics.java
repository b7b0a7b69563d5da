package dev.grpo4j.report;

import com.fasterxml.jackson.annotation.JsonAlias;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.UncheckedIOException;
import java.util.Arrays;

/**
 * One optimiser step, as one line of a run's {@code metrics.jsonl} (see {@link RunLog} for the folder layout):
 *
 * <pre>{@code {"step":12,"epoch":0.375,"loss":0.61,"group_pair_loss":[0.58,null,0.71],
 * "group_objective_loss":[0.62,0.0,0.44],"group_weights":[0.3,0.3,0.4],"lr":1.0E-5,"tokens_per_second":5120.0,
 * "grad_norm":1.25}}</pre>
 *
 * <p>Two per-group losses, because they differ: {@code group_pair_loss} is what a user means by a group's loss in
 * the step (the mean of its pairs' losses), {@code group_objective_loss} is the {@code L_g} the kernel put into the
 * objective {@code J = sum_g w_g L_g} and, for GR-DPO / GR-IPO, into the weight update: normalised as
 * {@code --group-normalization} says ({@code DATASET_FREQUENCY} scales a group's sum by {@code N / (N_g B)}), 0 for
 * a group without pairs, without the adjustment {@code C / sqrt(N_g)}.
 *
 * <p>Fields are written in this order, on one line, without spaces. Any non-finite value (NaN, and also an
 * infinite loss, which JSON cannot hold either) is written as {@code null}; {@code null} reads back as NaN. Logs
 * written before the two losses were split name the first {@code group_losses}, which reads as
 * {@code group_pair_loss}. Arrays are copied in and out, and {@link #equals} compares them by content.
 *
 * @param step 1-based optimiser step ({@code >= 0})
 * @param epoch passes over the training data so far, fractional within an epoch
 * @param loss the objective of the step (for GR-DPO the group-weighted loss), averaged over its micro-batches
 * @param groupPairLoss mean pair loss of each group over the step's pairs; NaN for a group without pairs in it
 * @param groupObjectiveLoss the kernel's {@code L_g} of each group, averaged over the step's micro-batches; NaN
 *     where not logged
 * @param groupWeights group weights {@code w_g} of the objective after the step's update; null for a method without
 *     group weights (plain DPO / IPO, where each pair counts once)
 * @param lr learning rate used for the step
 * @param tokensPerSecond training throughput over the step
 * @param gradNorm norm of the gradient before clipping; NaN if not measured
 * @param stepSeconds wall-clock seconds of the step, from setting its learning rate to the optimiser's update; NaN
 *     in logs written before it was recorded
 */
@JsonPropertyOrder({"step", "epoch", "loss", "group_pair_loss", "group_objective_loss", "group_weights", "lr",
    "tokens_per_second", "grad_norm", "step_seconds"})
public record StepMetrics(
    @JsonProperty(value = "step", required = true) int step,
    @JsonProperty(value = "epoch", required = true) double epoch,
    @JsonProperty(value = "loss", required = true) double loss,
    @JsonProperty(value = "group_pair_loss", required = true) @JsonAlias("group_losses") double[] groupPairLoss,
    @JsonProperty("group_objective_loss") double[] groupObjectiveLoss,
    @JsonProperty("group_weights") double[] groupWeights,
    @JsonProperty(value = "lr", required = true) double lr,
    @JsonProperty(value = "tokens_per_second", required = true) double tokensPerSecond,
    @JsonProperty(value = "grad_norm", required = true) double gradNorm,
    @JsonProperty("step_seconds") double stepSeconds) {

  /**
   * Checks and copies the arrays; a missing objective loss becomes NaN per group.
   *
   * @throws IllegalArgumentException if {@code step < 0}, the pair losses are missing or the arrays differ in length
   */
  public StepMetrics {
    if (step < 0) {
      throw new IllegalArgumentException("step = " + step + ": must be >= 0");
    }
    if (groupPairLoss == null) {
      throw new IllegalArgumentException("group_pair_loss is null: it needs one entry per group");
    }
    int groups = groupPairLoss.length;
    if (groupObjectiveLoss == null) {
      groupObjectiveLoss = new double[groups];
      Arrays.fill(groupObjectiveLoss, Double.NaN);
    }
    if (groupObjectiveLoss.length != groups || groupWeights != null && groupWeights.length != groups) {
      throw new IllegalArgumentException("group_pair_loss has " + groups + " entries but group_objective_loss "
          + groupObjectiveLoss.length + (groupWeights == null ? "" : " and group_weights " + groupWeights.length)
          + ": each needs one per group");
    }
    groupPairLoss = groupPairLoss.clone();
    groupObjectiveLoss = groupObjectiveLoss.clone();
    groupWeights = groupWeights == null ? null : groupWeights.clone();
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
    return groupPairLoss.length;
  }

  /** Whether the method has group weights (GR-* and IS-*); plain DPO / IPO has none. */
  public boolean hasGroupWeights() {
    return groupWeights != null;
  }

  @Override
  public double[] groupPairLoss() {
    return groupPairLoss.clone();
  }

  @Override
  public double[] groupObjectiveLoss() {
    return groupObjectiveLoss.clone();
  }

  @Override
  public double[] groupWeights() {
    return groupWeights == null ? null : groupWeights.clone();
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof StepMetrics s && step == s.step && Double.compare(epoch, s.epoch) == 0
        && Double.compare(loss, s.loss) == 0 && Arrays.equals(groupPairLoss, s.groupPairLoss)
        && Arrays.equals(groupObjectiveLoss, s.groupObjectiveLoss) && Arrays.equals(groupWeights, s.groupWeights)
        && Double.compare(lr, s.lr) == 0 && Double.compare(tokensPerSecond, s.tokensPerSecond) == 0
        && Double.compare(gradNorm, s.gradNorm) == 0 && Double.compare(stepSeconds, s.stepSeconds) == 0;
  }

  @Override
  public int hashCode() {
    int h = Integer.hashCode(step);
    h = 31 * h + Double.hashCode(epoch);
    h = 31 * h + Double.hashCode(loss);
    h = 31 * h + Arrays.hashCode(groupPairLoss);
    h = 31 * h + Arrays.hashCode(groupObjectiveLoss);
    h = 31 * h + Arrays.hashCode(groupWeights);
    h = 31 * h + Double.hashCode(lr);
    h = 31 * h + Double.hashCode(tokensPerSecond);
    h = 31 * h + Double.hashCode(gradNorm);
    return 31 * h + Double.hashCode(stepSeconds);
  }

  @Override
  public String toString() {
    return "StepMetrics" + toJson();
  }
}
