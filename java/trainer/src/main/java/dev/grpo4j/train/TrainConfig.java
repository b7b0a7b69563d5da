package dev.grpo4j.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.grpo4j.io.AtomicFiles;
import dev.grpo4j.io.RunFolder;
import java.io.IOException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Every setting of a training run, in six small specs; each component's Javadoc names its {@code train} option.
 * Presets start from the specs' factories ({@link LossSpec#of}, {@link OptimizerSpec#adamW}, ...), which hold the
 * command's defaults, and change only what differs. Checked on construction; messages name the option to fix.
 *
 * <p>The run folder keeps the settings as {@value #FILE}, so that {@code --resume} continues with exactly the same
 * ones: one flat JSON object whose keys are the specs' components (the option names of the file's first version,
 * which is read as it was written).
 *
 * @param model what is trained
 * @param data the pairs and their encoding
 * @param loss the preference objective
 * @param sft the supervised stage before it
 * @param optimizer AdamW, the schedule and clipping
 * @param loop steps, batches, evaluation, checkpoints, seed and processes
 */
public record TrainConfig(ModelSpec model, DataSpec data, LossSpec loss, SftSpec sft, OptimizerSpec optimizer,
    LoopSpec loop) {

  /** The file in the run folder. */
  public static final String FILE = RunFolder.CONFIG;

  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(SerializationFeature.INDENT_OUTPUT)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  public TrainConfig {
    require(model != null && data != null && loss != null && sft != null && optimizer != null && loop != null,
        "a run needs all six specs (model, data, loss, sft, optimizer, loop)");
    require(optimizer.warmupSteps() <= loop.steps(), "--warmup-steps = " + optimizer.warmupSteps()
        + ": must be in 0.." + loop.steps());
    require(optimizer.plateauPatience() < 0 || data.validation() != null, "--plateau-patience needs --validation: "
        + "the plateau is watched on the worst-group validation loss");
  }

  /** Refuses to go on with this run on another number of processes than it was set up for. */
  public void requireWorldSize(int processes) {
    int worldSize = loop.worldSize();
    require(worldSize == processes, "this run was set up for " + worldSize + " process" + (worldSize == 1 ? "" : "es")
        + " but runs on " + processes + ": a run keeps its number of processes (it decides how each step's pairs "
        + "are split); resume it with --nproc-per-node " + worldSize + " (x --nnodes)");
  }

  static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }

  public LearningRateSchedule schedule() {
    return new LearningRateSchedule(optimizer.learningRate(), optimizer.warmupSteps(), loop.steps(),
        optimizer.decay());
  }

  /** SHA-256 of the settings as {@value #FILE} holds them: equal on every rank of a data-parallel run. */
  public String fingerprint() {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(JSON.writeValueAsBytes(flat())));
    } catch (NoSuchAlgorithmException | JsonProcessingException e) {
      throw new IllegalStateException("cannot fingerprint the run settings", e);
    }
  }

  public void write(Path runDir) throws IOException {
    ObjectNode flat = flat();
    AtomicFiles.write(new RunFolder(runDir).config(), out -> JSON.writeValue(out, flat));
  }

  public static TrainConfig read(Path runDir) throws IOException {
    Path file = new RunFolder(runDir).config();
    try {
      JsonNode flat = JSON.readTree(file.toFile());
      if (flat == null || !flat.isObject()) {
        throw new IOException("not a JSON object");
      }
      return new TrainConfig(JSON.treeToValue(flat, ModelSpec.class), JSON.treeToValue(flat, DataSpec.class),
          JSON.treeToValue(flat, LossSpec.class), JSON.treeToValue(flat, SftSpec.class),
          JSON.treeToValue(flat, OptimizerSpec.class), JSON.treeToValue(flat, LoopSpec.class));
    } catch (IOException | IllegalArgumentException e) {
      throw new IOException(file + " is not a valid run configuration: " + e.getMessage(), e);
    }
  }

  /** The specs' components side by side in one object. */
  private ObjectNode flat() {
    ObjectNode flat = JSON.createObjectNode();
    for (Record spec : new Record[] {model, data, loss, sft, optimizer, loop}) {
      flat.setAll((ObjectNode) JSON.valueToTree(spec));
    }
    return flat;
  }
}
