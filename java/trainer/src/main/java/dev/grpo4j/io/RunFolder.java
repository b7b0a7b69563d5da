package dev.grpo4j.io;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/**
 * The layout of a training run's folder, the one place its names are written down:
 *
 * <pre>
 * run_config.json        the settings, written last at the start (a folder without it may be reused)
 * data_digests.json      SHA-256 of the data files, checked by --resume
 * groups.json            each group's id, label and training pairs
 * reference/SPLIT.safetensors   the reference log-probs the run uses (a resume never needs the reference model)
 * reference/model/       the frozen reference after an SFT stage or from a built-in model (full fine-tuning)
 * sft/model/             LoRA after an SFT stage: the merged SFT model, the adapters' base
 * metrics.jsonl          one line per step
 * eval.jsonl             one line per evaluation of a split
 * checkpoints/step-NNNNNNNN/   model or adapter, optimizer.pt, trainer_state.json
 * final/                 the trained model or adapters
 * report.md, *.png       the report and its plots
 * .grpo4j.lock           held while a process uses the folder
 * </pre>
 *
 * @param root the run folder
 */
public record RunFolder(Path root) {
  public static final String CONFIG = "run_config.json";
  public static final String DATA_DIGESTS = "data_digests.json";
  public static final String GROUPS = "groups.json";
  public static final String REFERENCE = "reference";
  public static final String SFT = "sft";
  public static final String METRICS = "metrics.jsonl";
  public static final String EVALUATIONS = "eval.jsonl";
  public static final String CHECKPOINTS = "checkpoints";
  public static final String FINAL = "final";
  public static final String REPORT = "report.md";
  private static final String MODEL = "model";
  /** What a start that failed before writing {@value #CONFIG} can leave: a new run may reuse such a folder. */
  private static final Set<String> WRITTEN_BEFORE_CONFIG = Set.of(FolderLock.FILE, GROUPS, REFERENCE, DATA_DIGESTS,
      SFT);

  public Path config() {
    return root.resolve(CONFIG);
  }

  public Path dataDigests() {
    return root.resolve(DATA_DIGESTS);
  }

  public Path groups() {
    return root.resolve(GROUPS);
  }

  /** The reference log-probs of split {@code split} ({@code train}, {@code validation}, {@code test}). */
  public Path referenceLogProbs(String split) {
    return root.resolve(REFERENCE).resolve(split + ".safetensors");
  }

  /** The frozen reference model a full fine-tuning run keeps (after SFT, or drawn from a built-in model). */
  public Path referenceModel() {
    return root.resolve(REFERENCE).resolve(MODEL);
  }

  /** A LoRA run's merged SFT model. */
  public Path sftModel() {
    return root.resolve(SFT).resolve(MODEL);
  }

  public Path metrics() {
    return root.resolve(METRICS);
  }

  public Path evaluations() {
    return root.resolve(EVALUATIONS);
  }

  public Path checkpoints() {
    return root.resolve(CHECKPOINTS);
  }

  public Path checkpoint(int step) {
    return checkpoints().resolve(String.format(Locale.ROOT, "step-%08d", step));
  }

  public Path finalModel() {
    return root.resolve(FINAL);
  }

  public Path report() {
    return root.resolve(REPORT);
  }

  /** Whether entry {@code name} of a run folder may be left by a start that failed before its {@value #CONFIG}. */
  public static boolean isWrittenBeforeConfig(String name) {
    return WRITTEN_BEFORE_CONFIG.contains(name) || AtomicFiles.isStaging(name) || AtomicDirectory.isStaging(name);
  }
}
