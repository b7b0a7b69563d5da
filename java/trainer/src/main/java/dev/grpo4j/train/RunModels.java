package dev.grpo4j.train;

import dev.grpo4j.dist.DataParallel;
import dev.grpo4j.dist.DistributedException;
import dev.grpo4j.io.RunFolder;
import dev.grpo4j.model.Checkpoints;
import dev.grpo4j.model.LoraAdapters;
import dev.grpo4j.model.LoraConfig;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.report.RunLog;
import dev.grpo4j.text.PairEncoder;
import dev.grpo4j.text.TextTokenizer;
import dev.grpo4j.torch.EncodedPairs;
import dev.grpo4j.torch.FusedHeadSettings;
import dev.grpo4j.torch.FusedLmHead;
import dev.grpo4j.torch.SequenceScorer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The models of a run: the policy, fresh (with its optional SFT stage and LoRA adapters) or restored by --resume
 * from the newest intact checkpoint; the frozen reference's folder; and how they run (placement, fused LM head).
 */
final class RunModels {
  private final TrainConfig config;
  private final RunFolder folder;
  private final DataParallel dp;
  private final ModelSource.Placement placement;
  private final FusedHeadSettings fusedHead;
  private final int threads;
  private final boolean progressBar;
  private final PrintWriter err;

  /** A fresh policy ready for preference training, and the hash of its reference (itself, adapters off). */
  record Prepared(PreferenceStage.Policy policy, String referenceHash) {}

  /** A checkpoint restored completely: weights, adapters, optimizer state and trainer state. */
  record Resumed(RunCheckpoints.Checkpoint checkpoint, PreferenceStage.Policy policy, TrainerState state) {}

  /** @param threads CPU threads of the fused kernels, 0 for their default */
  RunModels(TrainConfig config, RunFolder folder, DataParallel dp, ModelSource.Placement placement,
            FusedHeadSettings fusedHead, int threads, boolean progressBar, PrintWriter err) {
    this.config = config;
    this.folder = folder;
    this.dp = dp;
    this.placement = placement;
    this.fusedHead = fusedHead;
    this.threads = threads;
    this.progressBar = progressBar;
    this.err = err;
  }

  ModelSource.Placement placement() {
    return placement;
  }

  /** {@code --model} as it is, on the run's device, after checking that {@code tokenizer}'s ids fit it. */
  TransformerLm load(TextTokenizer tokenizer) {
    TransformerLm policy = ModelSource.model(config.model().name(), placement.dtype(), config.loop().seed());
    PairEncoder.requireVocabFits(tokenizer, policy.config().vocabSize());
    placement.moveTo(policy);
    return policy;
  }

  /** The fused LM head for {@code model} on this run's placement, or null where the run takes whole logits. */
  FusedLmHead fusedHead(TransformerLm model) {
    return fusedHead.resolve(model, placement.backend(), threads, placement.cudaStream());
  }

  /** Sequence log-probs under {@code model} as it is, through the fused head where the run uses it. */
  SequenceScorer scorer(TransformerLm model) {
    return new SequenceScorer(model, placement.backend(), placement.device(), fusedHead(model));
  }

  /**
   * The SFT stage (if any) and the adapters of a LoRA run. With LoRA, SFT trains adapters that are then merged into
   * the base (saved as {@link RunFolder#sftModel}), and fresh adapters are attached for preference optimisation, so
   * that the reference is the adapters-off model. Full fine-tuning after SFT or from a built-in model keeps the
   * reference as {@link RunFolder#referenceModel}, so that {@code eval --reference} can compare against it.
   */
  Prepared prepare(TransformerLm policy, EncodedPairs train) throws IOException {
    LoraConfig lora;
    if (config.model().adapter() != null) {
      if (config.sft().steps() > 0) {
        throw new IllegalArgumentException("--sft-steps with --adapter: the SFT stage would be merged into the "
            + "base and the given adapter lost; run SFT without --adapter, or drop --sft-steps");
      }
      Path adapterDir = Path.of(config.model().adapter());
      AdapterBase.mismatch(policy, adapterDir).ifPresent(warning -> err.println("warning: " + warning));
      lora = Checkpoints.loadAdapters(policy, adapterDir).withBaseModel(config.model().name());
      placement.moveTo(policy);
    } else {
      lora = config.model().lora() == null ? null : config.model().lora().toConfig(config.model().name());
      if (config.sft().steps() > 0) {
        if (lora != null) {
          LoraAdapters.attach(policy, lora, config.loop().seed());
          placement.moveTo(policy);
        }
        new SupervisedStage(config, dp, progressBar, err).run(policy, train, fusedHead(policy));
        if (lora != null) {
          LoraAdapters.merge(policy);
          Path sftModel = folder.sftModel().toAbsolutePath().normalize();
          if (dp.isMain()) {
            RunCheckpoints.saveWholeModel(policy, placement.dtype(), tokenizerFolder(), sftModel);
          }
          // The preference adapters are trained on the merged SFT model: that is their base, not --model.
          lora = lora.withBaseModel(sftModel.toString());
        }
      }
      if (lora != null) {
        LoraAdapters.attach(policy, lora, config.loop().seed() + 1);
        placement.moveTo(policy);
      } else if ((config.sft().steps() > 0 || ModelSource.BUILT_IN.contains(config.model().name())) && dp.isMain()) {
        // Full fine-tuning changes every weight: keep the reference, which exists nowhere else.
        RunCheckpoints.saveWholeModel(policy, placement.dtype(), tokenizerFolder(), folder.referenceModel());
      }
    }
    // The reference is the policy now, adapters off: for LoRA its hash is also the adapters' base's.
    String referenceHash = ReferenceLogProbs.modelHash(policy);
    PolicyLayout layout = lora == null ? PolicyLayout.wholeModel(placement.dtype(), tokenizerFolder())
        : adapterLayout(lora, referenceHash);
    return new Prepared(new PreferenceStage.Policy(policy, layout,
        Loop.adamW(policy, config.optimizer().learningRate(), config.optimizer())), referenceHash);
  }

  /**
   * Tidies what interrupted writes left in the folder and restores its newest intact checkpoint; null (and empty
   * logs) when none is intact, so that the run starts again from the beginning with its saved settings.
   */
  Resumed resume() throws IOException {
    DataDigests.check(folder.root(), config);
    if (dp.isMain()) {
      for (String leftover : RunCheckpoints.recover(folder.root())) {
        err.println("--resume: tidied " + leftover + ", left by an interrupted write");
      }
    }
    dp.barrier();
    Resumed resumed = restoreNewestIntact();
    boolean anyFresh = dp.anyTrue(resumed == null);
    boolean anyResumed = dp.anyTrue(resumed != null);
    if (anyFresh && anyResumed) {
      throw new DistributedException("rank " + dp.rank() + ": the ranks found different checkpoints in "
          + folder.root() + ": every rank must see the same run folder (a folder all machines share)");
    }
    if (resumed == null) {
      err.println("--resume: " + folder.root() + " has no intact checkpoint; starting the run again from the "
          + "beginning with its saved settings");
      if (dp.isMain()) {
        RunLog.truncate(folder.root(), -1, err::println);
      }
    }
    return resumed;
  }

  /**
   * The newest checkpoint that restores completely, trying older ones when a file of a newer one is damaged (each
   * reported); null when no checkpoint is intact (or there is none).
   */
  private Resumed restoreNewestIntact() {
    if (config.model().usesAdapters() && !Files.isDirectory(folder.sftModel())
        && !ModelSource.BUILT_IN.contains(config.model().name())
        && !Files.isDirectory(Path.of(config.model().name()))) {
      throw new IllegalArgumentException("--resume: the run's base model " + config.model().name() + " (see "
          + folder.config() + ") is no longer there; its adapters cannot be restored without it");
    }
    List<RunCheckpoints.Checkpoint> checkpoints = RunCheckpoints.list(folder.root());
    for (int i = checkpoints.size() - 1; i >= 0; i--) {
      RunCheckpoints.Checkpoint checkpoint = checkpoints.get(i);
      try {
        TrainerState state = checkpoint.state();
        state.groupWeightState(); // throws for group weights off the simplex: a damaged file like any other
        PreferenceStage.Policy policy = restore(checkpoint);
        checkpoint.restoreOptimizer(policy.optimizer());
        return new Resumed(checkpoint, policy, state);
      } catch (IOException | UncheckedIOException | IllegalArgumentException e) {
        err.println("--resume: checkpoint " + checkpoint.folder().getFileName() + " is damaged: " + e.getMessage()
            + (i > 0 ? "; trying " + checkpoints.get(i - 1).folder().getFileName() : ""));
      }
    }
    return null;
  }

  /**
   * The folder of the frozen reference model: {@link RunFolder#sftModel} for LoRA after SFT (also the adapters'
   * base), {@link RunFolder#referenceModel} for full fine-tuning after SFT or from a built-in model, otherwise
   * {@code --model} itself.
   */
  Path referenceModel() {
    if (config.model().usesAdapters()) {
      return config.sft().steps() > 0 ? folder.sftModel() : Path.of(config.model().name());
    }
    return config.sft().steps() > 0 || ModelSource.BUILT_IN.contains(config.model().name()) ? folder.referenceModel()
        : Path.of(config.model().name());
  }

  /** The policy as the checkpoint saved it: the whole model, or the adapters on the (SFT-merged) base. */
  private PreferenceStage.Policy restore(RunCheckpoints.Checkpoint checkpoint) {
    TransformerLm policy;
    PolicyLayout layout;
    if (config.model().usesAdapters()) {
      Path sft = folder.sftModel();
      policy = Files.isDirectory(sft) ? Checkpoints.load(sft, placement.dtype())
          : ModelSource.model(config.model().name(), placement.dtype(), config.loop().seed());
      String baseHash = ReferenceLogProbs.modelHash(policy);
      LoraConfig lora = Checkpoints.loadAdapters(policy, checkpoint.folder().resolve(RunCheckpoints.ADAPTER));
      layout = adapterLayout(lora, baseHash);
    } else {
      policy = Checkpoints.load(checkpoint.folder().resolve(RunCheckpoints.MODEL), placement.dtype());
      layout = PolicyLayout.wholeModel(placement.dtype(), tokenizerFolder());
    }
    placement.moveTo(policy);
    return new PreferenceStage.Policy(policy, layout, Loop.adamW(policy, config.optimizer().learningRate(),
        config.optimizer()));
  }

  private PolicyLayout adapterLayout(LoraConfig lora, String baseHash) {
    return new PolicyLayout(lora, new AdapterBase(lora.baseModel(), baseHash), placement.dtype(), tokenizerFolder());
  }

  private Path tokenizerFolder() {
    return ModelSource.tokenizerFolder(config.model().name(), config.model().tokenizer());
  }
}
