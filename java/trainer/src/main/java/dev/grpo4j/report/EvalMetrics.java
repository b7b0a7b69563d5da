package dev.grpo4j.report;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.DoubleBinaryOperator;

/**
 * One evaluation of the policy on a whole split, as one line of a run's {@code eval.jsonl} (see {@link RunLog}):
 *
 * <pre>{@code {"step":40,"split":"test","groups":["g0","g1"],"group_loss":[0.52,0.61],
 * "group_reward_accuracy":[0.8,0.7],"group_logprob_accuracy":[0.75,0.65],"group_margin":[0.9,0.4],
 * "group_count":[120,30],"worst_group_loss":0.61,"average_loss":0.565,"loss_imbalance":0.09,
 * "worst_group_reward_accuracy":0.7,"average_reward_accuracy":0.75}}</pre>
 *
 * <p>Fields are written in this order, on one line, without spaces; non-finite values as {@code null}, which reads
 * back as NaN. The last five fields are not stored in the record: they are computed from the per-group ones over
 * the groups with {@code group_count > 0} (each group counting once, whatever its size), written for readers of the
 * file, and ignored when a line is read, so they always agree with the per-group values. With no counted group they
 * are NaN ({@code null}). Arrays are copied in and out; {@link #equals} compares them by content.
 *
 * @param step the optimiser step after which the policy was evaluated ({@code 0}: before training)
 * @param split which split was evaluated
 * @param groups group names, in group-index order
 * @param groupLoss mean pair loss per group; NaN for a group without pairs
 * @param groupRewardAccuracy fraction of each group's pairs with a positive implicit-reward margin
 * @param groupLogprobAccuracy fraction of each group's pairs where the policy gives the chosen response a higher
 *     log-probability than the rejected one
 * @param groupMargin mean implicit-reward margin {@code beta * (log-ratio chosen - log-ratio rejected)} per group
 * @param groupCount evaluation pairs per group ({@code >= 0})
 */
@JsonPropertyOrder({"step", "split", "groups", "group_loss", "group_reward_accuracy", "group_logprob_accuracy",
    "group_margin", "group_count", "worst_group_loss", "average_loss", "loss_imbalance",
    "worst_group_reward_accuracy", "average_reward_accuracy"})
public record EvalMetrics(
    @JsonProperty(value = "step", required = true) int step,
    @JsonProperty(value = "split", required = true) Split split,
    @JsonProperty(value = "groups", required = true) List<String> groups,
    @JsonProperty(value = "group_loss", required = true) double[] groupLoss,
    @JsonProperty(value = "group_reward_accuracy", required = true) double[] groupRewardAccuracy,
    @JsonProperty(value = "group_logprob_accuracy", required = true) double[] groupLogprobAccuracy,
    @JsonProperty(value = "group_margin", required = true) double[] groupMargin,
    @JsonProperty(value = "group_count", required = true) int[] groupCount) {

  /** The evaluated split, written as its lower-case {@link #label()}. */
  public enum Split {
    /** Held-out pairs used during training (model selection, early stopping). */
    VALIDATION("validation"),
    /** Held-out pairs looked at only for the final numbers. */
    TEST("test");

    private final String label;

    Split(String label) {
      this.label = label;
    }

    /** The name in {@code eval.jsonl}: {@code validation} or {@code test}. */
    @JsonValue
    public String label() {
      return label;
    }
  }

  /**
   * Checks and copies the arguments.
   *
   * @throws IllegalArgumentException if {@code step < 0}, a group name is null, a count is negative, or an array
   *     does not have one entry per group
   */
  public EvalMetrics {
    if (step < 0) {
      throw new IllegalArgumentException("step = " + step + ": must be >= 0");
    }
    Objects.requireNonNull(split, "split");
    Objects.requireNonNull(groups, "groups");
    for (int g = 0; g < groups.size(); g++) {
      if (groups.get(g) == null) {
        throw new IllegalArgumentException("groups[" + g + "] is null: every group needs a name");
      }
    }
    groups = List.copyOf(groups);
    int n = groups.size();
    checkLength("group_loss", groupLoss, n);
    checkLength("group_reward_accuracy", groupRewardAccuracy, n);
    checkLength("group_logprob_accuracy", groupLogprobAccuracy, n);
    checkLength("group_margin", groupMargin, n);
    if (groupCount == null || groupCount.length != n) {
      throw new IllegalArgumentException("group_count has " + (groupCount == null ? "no" : groupCount.length)
          + " entries for " + n + " groups");
    }
    for (int g = 0; g < n; g++) {
      if (groupCount[g] < 0) {
        throw new IllegalArgumentException("group_count[" + g + "] = " + groupCount[g] + ": must be >= 0");
      }
    }
    groupLoss = groupLoss.clone();
    groupRewardAccuracy = groupRewardAccuracy.clone();
    groupLogprobAccuracy = groupLogprobAccuracy.clone();
    groupMargin = groupMargin.clone();
    groupCount = groupCount.clone();
  }

  private static void checkLength(String field, double[] values, int groups) {
    if (values == null || values.length != groups) {
      throw new IllegalArgumentException(field + " has " + (values == null ? "no" : values.length)
          + " entries for " + groups + " groups");
    }
  }

  /** Reads one {@code eval.jsonl} line; {@link RunLog#readEval(java.nio.file.Path)} adds file and line. */
  public static EvalMetrics fromJson(String line) throws JsonProcessingException {
    return RunJson.MAPPER.readValue(line, EvalMetrics.class);
  }

  /** This evaluation as one {@code eval.jsonl} line, without the line break. */
  public String toJson() {
    try {
      return RunJson.MAPPER.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException("EvalMetrics could not be written as JSON", e);
    }
  }

  /** Number of groups. */
  public int numberOfGroups() {
    return groups.size();
  }

  /** Largest loss among the groups with pairs; NaN if none has. */
  @JsonProperty(value = "worst_group_loss", access = JsonProperty.Access.READ_ONLY)
  public double worstGroupLoss() {
    return reduce(groupLoss, Math::max);
  }

  /** Mean of the losses of the groups with pairs; NaN if none has. */
  @JsonProperty(value = "average_loss", access = JsonProperty.Access.READ_ONLY)
  public double averageLoss() {
    return mean(groupLoss);
  }

  /** Largest minus smallest loss among the groups with pairs; NaN if none has. */
  @JsonProperty(value = "loss_imbalance", access = JsonProperty.Access.READ_ONLY)
  public double lossImbalance() {
    return reduce(groupLoss, Math::max) - reduce(groupLoss, Math::min);
  }

  /** Smallest reward accuracy among the groups with pairs; NaN if none has. */
  @JsonProperty(value = "worst_group_reward_accuracy", access = JsonProperty.Access.READ_ONLY)
  public double worstGroupRewardAccuracy() {
    return reduce(groupRewardAccuracy, Math::min);
  }

  /** Mean of the reward accuracies of the groups with pairs; NaN if none has. */
  @JsonProperty(value = "average_reward_accuracy", access = JsonProperty.Access.READ_ONLY)
  public double averageRewardAccuracy() {
    return mean(groupRewardAccuracy);
  }

  private double reduce(double[] values, DoubleBinaryOperator op) {
    double result = Double.NaN;
    boolean first = true;
    for (int g = 0; g < values.length; g++) {
      if (groupCount[g] > 0) {
        result = first ? values[g] : op.applyAsDouble(result, values[g]);
        first = false;
      }
    }
    return result;
  }

  private double mean(double[] values) {
    double sum = 0;
    int counted = 0;
    for (int g = 0; g < values.length; g++) {
      if (groupCount[g] > 0) {
        sum += values[g];
        counted++;
      }
    }
    return counted == 0 ? Double.NaN : sum / counted;
  }

  @Override
  public double[] groupLoss() {
    return groupLoss.clone();
  }

  @Override
  public double[] groupRewardAccuracy() {
    return groupRewardAccuracy.clone();
  }

  @Override
  public double[] groupLogprobAccuracy() {
    return groupLogprobAccuracy.clone();
  }

  @Override
  public double[] groupMargin() {
    return groupMargin.clone();
  }

  @Override
  public int[] groupCount() {
    return groupCount.clone();
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof EvalMetrics e && step == e.step && split == e.split && groups.equals(e.groups)
        && Arrays.equals(groupLoss, e.groupLoss) && Arrays.equals(groupRewardAccuracy, e.groupRewardAccuracy)
        && Arrays.equals(groupLogprobAccuracy, e.groupLogprobAccuracy) && Arrays.equals(groupMargin, e.groupMargin)
        && Arrays.equals(groupCount, e.groupCount);
  }

  @Override
  public int hashCode() {
    int h = Integer.hashCode(step);
    h = 31 * h + split.hashCode();
    h = 31 * h + groups.hashCode();
    h = 31 * h + Arrays.hashCode(groupLoss);
    h = 31 * h + Arrays.hashCode(groupRewardAccuracy);
    h = 31 * h + Arrays.hashCode(groupLogprobAccuracy);
    h = 31 * h + Arrays.hashCode(groupMargin);
    return 31 * h + Arrays.hashCode(groupCount);
  }

  @Override
  public String toString() {
    return "EvalMetrics" + toJson();
  }
}
