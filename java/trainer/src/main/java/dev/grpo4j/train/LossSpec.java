package dev.grpo4j.train;

import static dev.grpo4j.train.TrainConfig.require;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.grpo4j.FDivergence;
import dev.grpo4j.GroupNormalization;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.LossTerm;
import dev.grpo4j.PairLoss;
import dev.grpo4j.Weighting;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * The preference objective: the method (or the pair losses by name and a weighting), the losses' settings and the
 * group weights' update.
 *
 * @param method {@code --method}; null where {@code losses} names the losses
 * @param beta {@code --beta}
 * @param eta {@code --eta}
 * @param chi {@code --chi}
 * @param adjustment {@code --adjustment}
 * @param groupNormalization {@code --group-normalization}
 * @param labelSmoothing {@code --label-smoothing}
 * @param ipoLengthNormalization {@code --ipo-length-normalization}
 * @param groupUpdate {@code --group-update}; null (run folders written before the option) reads as per micro-batch
 * @param losses {@code --loss}, {@code --loss-weights}, {@code --weighting}; null with a {@code method}
 * @param lossParameters {@code --f-divergence} and the options single losses read; null for TRL's defaults
 */
public record LossSpec(@JsonInclude(JsonInclude.Include.NON_NULL) Method method, double beta, double eta, double chi,
    double adjustment, GroupNormalization groupNormalization, double labelSmoothing, boolean ipoLengthNormalization,
    GroupUpdate groupUpdate, @JsonInclude(JsonInclude.Include.NON_NULL) LossTerms losses,
    @JsonInclude(JsonInclude.Include.NON_NULL) LossParameters lossParameters) {

  /** The largest {@code --eta} (and {@code --adjustment}) taken. */
  public static final double MAX_ETA = 1e4;

  public LossSpec {
    groupUpdate = groupUpdate == null ? GroupUpdate.PER_MICRO_BATCH : groupUpdate;
    lossParameters = LossParameters.orNull(lossParameters);
    require(method == null || losses == null, "--method " + (method == null ? "" : method.cliName()) + " and --loss "
        + "exclude each other: --method names a loss and a weighting; with --loss, choose the weighting by "
        + "--weighting");
    require(method != null || losses != null, "--method is required: one of dpo, ipo, is-dpo, is-ipo, gr-dpo, gr-ipo"
        + " (or name the losses by --loss)");
    if (method != null) {
      method.requireLossOptions(beta, labelSmoothing, ipoLengthNormalization);
    } else {
      require(beta > 0 && beta <= Method.MAX_BETA, "--beta = " + beta + ": must be in (0, " + Method.MAX_BETA + "]");
    }
    requireLossesRead(losses, labelSmoothing, lossParameters);
    require(!ipoLengthNormalization || method != null || losses.names().contains("ipo"), "--ipo-length-normalization "
        + "applies to the ipo loss only (which, named by --loss, always divides by the lengths, as TRL's does)");
    require(eta >= 0 && eta <= MAX_ETA, "--eta = " + eta + ": must be in [0, " + MAX_ETA + "] (the paper uses 0.01 "
        + "to 1; a step of exp(eta * loss) past that puts all weight on one group at once)");
    require(chi >= 0 && chi <= 1, "--chi = " + chi + ": must be in [0, 1]");
    require(adjustment >= 0 && adjustment <= MAX_ETA, "--adjustment = " + adjustment + ": must be in [0, " + MAX_ETA
        + "]");
    require(labelSmoothing >= 0 && labelSmoothing < 0.5, "--label-smoothing = " + labelSmoothing
        + ": must be in [0, 0.5)");
    require(groupNormalization != null, "--group-normalization is required: dataset_frequency or batch_mean");
  }

  /**
   * {@code method} with the {@code train} command's defaults: beta 0.1, eta 0.01, chi 1, no adjustment, the
   * paper's dataset-frequency group losses, no label smoothing or length normalisation, an update per micro-batch.
   */
  public static LossSpec of(Method method) {
    return new LossSpec(method, 0.1, 0.01, 1, 0, GroupNormalization.DATASET_FREQUENCY, 0, false,
        GroupUpdate.PER_MICRO_BATCH);
  }

  /** A spec of the paper's methods, with TRL's defaults for the options single losses read. */
  public LossSpec(Method method, double beta, double eta, double chi, double adjustment,
                  GroupNormalization groupNormalization, double labelSmoothing, boolean ipoLengthNormalization,
                  GroupUpdate groupUpdate) {
    this(method, beta, eta, chi, adjustment, groupNormalization, labelSmoothing, ipoLengthNormalization, groupUpdate,
        null, null);
  }

  /** The loss terms summed per pair. */
  public List<LossTerm> terms() {
    return losses != null ? losses.terms() : List.of(new LossTerm(PairLoss.of(method.lossType()), 1.0));
  }

  /** How the groups combine: the method's, or {@code --weighting}'s. */
  public Weighting weighting() {
    return method != null ? method.weighting() : losses.effectiveWeighting();
  }

  /** The run's name for the objective: {@code GR-DPO}, or the weighting and losses, e.g. {@code GR-hinge}. */
  public String label() {
    return method != null ? method.displayName() : losses.label();
  }

  /** Whether any loss reads the reference log-probs; without, the run needs no reference model. */
  public boolean usesReference() {
    return terms().stream().anyMatch(t -> t.loss().usesReference());
  }

  public LossParameters parameters() {
    return lossParameters == null ? LossParameters.DEFAULTS : lossParameters;
  }

  /** The checks the core repeats, here with the flags' names. */
  private static void requireLossesRead(LossTerms losses, double labelSmoothing, LossParameters parameters) {
    List<LossTerm> terms = losses == null ? null : losses.terms();
    if (terms != null && labelSmoothing != 0) {
      require(terms.stream().anyMatch(t -> t.loss().usesLabelSmoothing()), "--label-smoothing applies to "
          + namesWhere(PairLoss::usesLabelSmoothing) + "; --loss " + String.join(",", losses.names())
          + " does not read it: drop it");
    }
    if (terms != null) {
      for (LossTerm t : terms) {
        require(!t.loss().needsLabelSmoothing() || labelSmoothing > 0, "--loss " + t.loss().name() + " takes "
            + "log(--label-smoothing): give --label-smoothing > 0 (EXO suggests 1e-3)");
      }
    }
    LossParameters p = parameters == null ? LossParameters.DEFAULTS : parameters;
    if (p.fDivergence() != FDivergence.REVERSE_KL) {
      List<LossTerm> used = terms != null ? terms : List.of();
      for (LossTerm t : used) {
        require(t.loss().takesFDivergence(), "--f-divergence " + p.fDivergence().trlName() + ": --loss "
            + t.loss().name() + " reads the log-ratios themselves; use it with one of "
            + namesWhere(PairLoss::takesFDivergence));
      }
    }
  }

  private static String namesWhere(Predicate<PairLoss> test) {
    return PairLoss.all().stream().filter(test).map(PairLoss::name).collect(Collectors.joining(", "));
  }

  /**
   * The fused loss these settings describe over {@code groups} groups of {@code groupSizes} training pairs, on
   * {@code placement}'s backend and stream with {@code threads} CPU threads.
   */
  public GroupRobustLoss build(int groups, long[] groupSizes, ModelSource.Placement placement, int threads) {
    return lossBuilder()
        .weighting(weighting())
        .eta(eta)
        .chi(chi)
        .adjustment(weighting() == Weighting.ROBUST ? adjustment : 0)
        .groupNormalization(groupNormalization)
        .groups(groups)
        .groupSizes(groupSizes)
        .backend(placement.backend())
        .cudaStream(placement.cudaStream())
        .threads(threads)
        .build();
  }

  /**
   * The loss terms with beta and every option a loss reads, without weighting or groups: {@code --loss ipo} is TRL's
   * ipo, which divides by the response lengths, while {@code --method ipo} does so with
   * {@code --ipo-length-normalization} only.
   */
  public GroupRobustLoss.Builder lossBuilder() {
    LossParameters p = parameters();
    boolean ipo = terms().stream().anyMatch(t -> t.loss().name().equals("ipo"));
    return GroupRobustLoss.builder()
        .losses(terms())
        .beta(beta)
        .labelSmoothing(labelSmoothing)
        .ipoLengthNormalization(method != null ? ipoLengthNormalization : ipo)
        .fDivergence(p.fDivergence())
        .alphaDivergence(p.alphaDivergence())
        .discopopTau(p.discopopTau())
        .simpoGamma(p.simpoGamma());
  }

  public LossSpec withBeta(double beta) {
    return new LossSpec(method, beta, eta, chi, adjustment, groupNormalization, labelSmoothing,
        ipoLengthNormalization, groupUpdate, losses, lossParameters);
  }

  public LossSpec withEta(double eta) {
    return new LossSpec(method, beta, eta, chi, adjustment, groupNormalization, labelSmoothing,
        ipoLengthNormalization, groupUpdate, losses, lossParameters);
  }
}
