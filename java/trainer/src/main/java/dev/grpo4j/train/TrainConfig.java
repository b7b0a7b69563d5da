package dev.grpo4j.train;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.grpo4j.GroupNormalization;
import dev.grpo4j.data.DataFormat;
import dev.grpo4j.io.AtomicFiles;
import dev.grpo4j.io.RunFolder;
import dev.grpo4j.model.LoraConfig;
import dev.grpo4j.text.PreferenceData;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Every setting of a training run, as given on the {@code train} command line (the field comments name the
 * options). The run folder keeps it as {@value #FILE}, so that {@code --resume} continues with exactly the same
 * settings. Checked on construction; messages name the option to fix.
 *
 * @param model Hugging Face model folder or built-in name ({@code --model})
 * @param adapter PEFT adapter folder to continue training, or null ({@code --adapter})
 * @param tokenizer tokenizer folder, {@code bytes}, or null for the model's ({@code --tokenizer})
 * @param dtype parameter dtype name, or null for the device's default ({@code --dtype})
 * @param device {@code cpu} or {@code cuda} ({@code --device})
 * @param lora LoRA settings of fresh adapters, or null for full fine-tuning ({@code --lora-rank} and friends)
 * @param trainData training data file ({@code --train})
 * @param validationData validation data file or null ({@code --validation})
 * @param testData test data file or null ({@code --test})
 * @param skipBadLines skip malformed records ({@code --skip-bad-lines})
 * @param reading how records are read and rendered ({@code --format}, {@code --group-field},
 *     {@code --chat-template}); null (in run folders written before these options) reads as the defaults
 * @param maxPromptTokens {@code --max-prompt-tokens}
 * @param maxLength {@code --max-length}
 * @param appendEos {@code --append-eos}
 * @param method {@code --method}
 * @param beta {@code --beta}
 * @param eta {@code --eta}
 * @param chi {@code --chi}
 * @param adjustment {@code --adjustment}
 * @param groupNormalization {@code --group-normalization}
 * @param labelSmoothing {@code --label-smoothing}
 * @param ipoLengthNormalization {@code --ipo-length-normalization}
 * @param groupUpdate {@code --group-update}; null (run folders written before the option) reads as per micro-batch
 * @param sftSteps {@code --sft-steps}
 * @param sftLearningRate {@code --sft-lr}
 * @param batchSize pairs per micro-batch ({@code --batch-size})
 * @param gradientAccumulation micro-batches per optimiser step ({@code --grad-accumulation})
 * @param learningRate {@code --lr}
 * @param weightDecay {@code --weight-decay}
 * @param warmupSteps {@code --warmup-steps}
 * @param decay {@code --schedule}
 * @param plateauPatience {@code --plateau-patience}, negative for off
 * @param plateauFactor {@code --plateau-factor}
 * @param minLearningRate {@code --min-lr}
 * @param maxGradNorm {@code --max-grad-norm}, 0 for no clipping
 * @param steps optimiser steps ({@code --steps}, or derived from {@code --epochs})
 * @param evalInterval steps between validation evaluations, 0 for only at the end ({@code --eval-every})
 * @param evalBatchSize pairs per evaluation forward ({@code --eval-batch-size})
 * @param checkpointInterval steps between checkpoints, 0 for only at the end ({@code --checkpoint-every})
 * @param keepCheckpoints checkpoints kept ({@code --keep-checkpoints})
 * @param seed {@code --seed}
 * @param worldSize data-parallel processes ({@code --nproc-per-node} x {@code --nnodes}); 0 (run folders written
 *     before the option) reads as 1. {@code --batch-size} is then the pairs of all ranks' micro-batches together.
 */
public record TrainConfig(
    String model, String adapter, String tokenizer, String dtype, String device, LoraSettings lora,
    String trainData, String validationData, String testData, boolean skipBadLines, PairReading reading,
    int maxPromptTokens, int maxLength, boolean appendEos,
    Method method, double beta, double eta, double chi, double adjustment, GroupNormalization groupNormalization,
    double labelSmoothing, boolean ipoLengthNormalization, GroupUpdate groupUpdate,
    int sftSteps, double sftLearningRate,
    int batchSize, int gradientAccumulation, double learningRate, double weightDecay, int warmupSteps,
    LearningRateSchedule.Decay decay, int plateauPatience, double plateauFactor, double minLearningRate,
    double maxGradNorm, int steps, int evalInterval, int evalBatchSize, int checkpointInterval, int keepCheckpoints,
    long seed, int worldSize) {

  /** The file in the run folder. */
  public static final String FILE = RunFolder.CONFIG;

  /** SHA-256 of the settings as {@value #FILE} holds them: equal on every rank of a data-parallel run. */
  public String fingerprint() {
    try {
      byte[] digest = java.security.MessageDigest.getInstance("SHA-256").digest(JSON.writeValueAsBytes(this));
      return java.util.HexFormat.of().formatHex(digest);
    } catch (java.security.NoSuchAlgorithmException | com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException("cannot fingerprint the run settings", e);
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(SerializationFeature.INDENT_OUTPUT)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  /**
   * LoRA settings of adapters the run attaches.
   *
   * @param rank {@code --lora-rank}
   * @param alpha {@code --lora-alpha}
   * @param dropout {@code --lora-dropout}
   * @param targetModules {@code --lora-targets}
   */
  public record LoraSettings(int rank, double alpha, double dropout, List<String> targetModules) {
    /** The PEFT configuration, checked. */
    public LoraConfig toConfig(String baseModel) {
      return new LoraConfig(rank, alpha, dropout, targetModules, baseModel);
    }
  }

  /**
   * How data files are read and conversational records rendered.
   *
   * @param format {@code --format}, or null to tell each file's format from its extension
   * @param groupField {@code --group-field}
   * @param chatTemplate {@code --chat-template}, or null for the model's own
   * @param chatTemplateKwargs {@code --chat-template-kwargs} (a JSON object), or null
   */
  public record PairReading(String format, String groupField, String chatTemplate, String chatTemplateKwargs) {
    /** The defaults: formats from extensions, the field {@code group}, the model's template. */
    public static PairReading defaults() {
      return new PairReading(null, PreferenceData.DEFAULT_GROUP_FIELD, null, null);
    }

    public PairReading {
      groupField = groupField == null ? PreferenceData.DEFAULT_GROUP_FIELD : groupField;
    }

    /** The reader's options. */
    public PreferenceData.ReadOptions readOptions(boolean skipBadRecords) {
      return new PreferenceData.ReadOptions(format == null ? null : DataFormat.named(format), groupField,
          skipBadRecords);
    }
  }

  /** The largest {@code --eta} (and {@code --adjustment}) taken. */
  public static final double MAX_ETA = 1e4;

  public TrainConfig {
    reading = reading == null ? PairReading.defaults() : reading;
    groupUpdate = groupUpdate == null ? GroupUpdate.PER_MICRO_BATCH : groupUpdate;
    require(!"float16".equals(dtype) && !"fp16".equals(dtype), "--dtype " + dtype + ": float16 training needs loss "
        + "scaling and float32 master weights, which grpo4j does not do, and diverges within a few steps; train in "
        + "bfloat16 (the same memory, float32's range) or float32 (float16 models are fine for eval and score)");
    require(model != null && !model.isBlank(), "--model is required: a Hugging Face folder or tiny-llama / tiny-qwen2");
    require(trainData != null, "--train is required: the training pairs (a JSONL, JSON, CSV or Parquet file)");
    require(maxPromptTokens >= 1, "--max-prompt-tokens = " + maxPromptTokens + ": must be >= 1");
    require(maxLength > maxPromptTokens, "--max-length = " + maxLength + " must exceed --max-prompt-tokens = "
        + maxPromptTokens);
    require(method != null, "--method is required: one of dpo, ipo, is-dpo, is-ipo, gr-dpo, gr-ipo");
    method.requireLossOptions(beta, labelSmoothing, ipoLengthNormalization);
    require(eta >= 0 && eta <= MAX_ETA, "--eta = " + eta + ": must be in [0, " + MAX_ETA + "] (the paper uses 0.01 "
        + "to 1; a step of exp(eta * loss) past that puts all weight on one group at once)");
    require(chi >= 0 && chi <= 1, "--chi = " + chi + ": must be in [0, 1]");
    require(adjustment >= 0 && adjustment <= MAX_ETA, "--adjustment = " + adjustment + ": must be in [0, " + MAX_ETA
        + "]");
    require(labelSmoothing >= 0 && labelSmoothing < 0.5, "--label-smoothing = " + labelSmoothing
        + ": must be in [0, 0.5)");
    require(sftSteps >= 0, "--sft-steps = " + sftSteps + ": must be >= 0");
    require(sftLearningRate > 0 && Double.isFinite(sftLearningRate), "--sft-lr = " + sftLearningRate + ": must be > 0");
    require(batchSize >= 1, "--batch-size = " + batchSize + ": must be >= 1");
    worldSize = worldSize == 0 ? 1 : worldSize;
    require(worldSize >= 1, "world size " + worldSize + ": must be >= 1");
    requireBatchSplits(batchSize, worldSize);
    require(gradientAccumulation >= 1, "--grad-accumulation = " + gradientAccumulation + ": must be >= 1");
    require(learningRate > 0 && Double.isFinite(learningRate), "--lr = " + learningRate + ": must be > 0");
    require(weightDecay >= 0 && Double.isFinite(weightDecay), "--weight-decay = " + weightDecay + ": must be >= 0");
    require(steps >= 1, "the run has " + steps + " steps: --steps (or --epochs) must give at least one");
    require(warmupSteps >= 0 && warmupSteps <= steps, "--warmup-steps = " + warmupSteps + ": must be in 0.." + steps);
    require(minLearningRate >= 0 && minLearningRate <= learningRate, "--min-lr = " + minLearningRate
        + ": must be in [0, --lr]");
    require(maxGradNorm >= 0 && Double.isFinite(maxGradNorm), "--max-grad-norm = " + maxGradNorm
        + ": must be >= 0 (0: no clipping)");
    require(evalInterval >= 0, "--eval-every = " + evalInterval + ": must be >= 0 (0: only at the end)");
    require(evalBatchSize >= 1, "--eval-batch-size = " + evalBatchSize + ": must be >= 1");
    require(checkpointInterval >= 0, "--checkpoint-every = " + checkpointInterval
        + ": must be >= 0 (0: only at the end)");
    require(keepCheckpoints >= 1, "--keep-checkpoints = " + keepCheckpoints + ": must be >= 1");
    require(plateauFactor > 0 && plateauFactor < 1, "--plateau-factor = " + plateauFactor + ": must be in (0, 1)");
    require(plateauPatience < 0 || validationData != null, "--plateau-patience needs --validation: the plateau is "
        + "watched on the worst-group validation loss");
    if (lora != null) {
      require(adapter == null, "--adapter and --lora-rank both given: continue the adapter's training without "
          + "--lora-rank, or start fresh adapters without --adapter");
      lora.toConfig("");
    }
  }

  /** Refuses a micro-batch of {@code batchSize} pairs that {@code worldSize} processes cannot share evenly. */
  public static void requireBatchSplits(int batchSize, int worldSize) {
    require(batchSize % worldSize == 0, "--batch-size " + batchSize + " is the pairs of one micro-batch over all "
        + worldSize + " processes and must be a multiple of their number");
  }

  /** Refuses to go on with this run on another number of processes than it was set up for. */
  public void requireWorldSize(int processes) {
    require(worldSize == processes, "this run was set up for " + worldSize + " process" + (worldSize == 1 ? "" : "es")
        + " but runs on " + processes + ": a run keeps its number of processes (it decides how each step's pairs "
        + "are split); resume it with --nproc-per-node " + worldSize + " (x --nnodes)");
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }

  /** Whether the policy trains LoRA adapters (fresh or continued) rather than every weight. */
  public boolean usesAdapters() {
    return lora != null || adapter != null;
  }

  /** Training pairs per optimiser step. */
  public int pairsPerStep() {
    return batchSize * gradientAccumulation;
  }

  public LearningRateSchedule schedule() {
    return new LearningRateSchedule(learningRate, warmupSteps, steps, decay);
  }

  /** The reduce-on-plateau scaler, or null when off. */
  public PlateauScaler plateau() {
    return plateauPatience < 0 ? null
        : new PlateauScaler(plateauPatience, plateauFactor, 1e-4, Math.max(minLearningRate / learningRate, 1e-12));
  }

  public void write(Path runDir) throws IOException {
    AtomicFiles.write(new RunFolder(runDir).config(), out -> JSON.writeValue(out, this));
  }

  public static TrainConfig read(Path runDir) throws IOException {
    Path file = new RunFolder(runDir).config();
    try {
      return JSON.readValue(file.toFile(), TrainConfig.class);
    } catch (IOException e) {
      throw new IOException(file + " is not a valid run configuration: " + e.getMessage(), e);
    }
  }
}
