package dev.grpo4j.train;

import dev.grpo4j.io.AtomicDirectory;
import dev.grpo4j.io.RunFolder;
import dev.grpo4j.model.Checkpoints;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.text.ByteTextTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The checkpoints of a run folder: {@code checkpoints/step-NNNNNNNN/}, each written completely or not at all
 * (through {@link AtomicDirectory}), holding
 * <ul>
 *   <li>{@value #MODEL} (the whole policy in Hugging Face layout, loadable with {@code --model}) or {@value #ADAPTER}
 *       (its LoRA adapters in PEFT layout, loadable with {@code --adapter} on the base model);</li>
 *   <li>{@value #OPTIMIZER}, libtorch's own serialisation of the AdamW state (moments and step counts);</li>
 *   <li>{@value TrainerState#FILE}: step, sampler position, group weights, plateau state.</li>
 * </ul>
 */
public final class RunCheckpoints {
  public static final String FOLDER = RunFolder.CHECKPOINTS;
  public static final String MODEL = "model";
  public static final String ADAPTER = "adapter";
  public static final String OPTIMIZER = "optimizer.pt";
  /** Tokenizer files copied next to a saved model, so that the folder works as {@code --model} on its own. */
  private static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json",
      "special_tokens_map.json", "generation_config.json", "vocab.json", "merges.txt", "added_tokens.json",
      "chat_template.jinja", "chat_template.json");
  private static final Pattern STEP_FOLDER = Pattern.compile("step-(\\d{8}|[1-9]\\d{8,})");

  private RunCheckpoints() {}

  /** A checkpoint on disk. */
  public record Checkpoint(int step, Path folder) {
    public TrainerState state() throws IOException {
      return TrainerState.read(folder);
    }

    /**
     * Replaces the optimizer's state with the saved one (same parameters, same order).
     *
     * @throws IOException naming {@value #OPTIMIZER} when it is missing or damaged
     */
    public void restoreOptimizer(Optimizer optimizer) throws IOException {
      OptimizerFile.restore(optimizer, folder.resolve(OPTIMIZER));
    }
  }

  /** Writes the checkpoint of {@code state.step()} and then deletes all but the newest {@code keep}. */
  public static Path save(Path runDir, TransformerLm model, PolicyLayout layout, Optimizer optimizer,
                          TrainerState state, int keep) {
    Path target = new RunFolder(runDir).checkpoint(state.step());
    AtomicDirectory.write(target, folder -> {
      saveModel(model, layout, folder);
      OptimizerFile.save(optimizer, folder.resolve(OPTIMIZER));
      state.write(folder);
    });
    prune(runDir, keep);
    return target;
  }

  /**
   * Saves the policy into {@code folder}: {@value #ADAPTER}/ with the record of its base when the layout has
   * adapters, else {@value #MODEL}/ with the tokenizer files of the layout's source, or the byte tokenizer's
   * marker.
   */
  public static void saveModel(TransformerLm model, PolicyLayout layout, Path folder) throws IOException {
    if (layout.lora() != null) {
      Path adapterDir = folder.resolve(ADAPTER);
      Checkpoints.saveAdapters(model, layout.lora(), adapterDir);
      if (layout.adapterBase() != null) {
        layout.adapterBase().write(adapterDir);
      }
      return;
    }
    saveWholeModel(model, layout.dtype(), layout.tokenizerSource(), folder.resolve(MODEL));
  }

  /**
   * Saves the whole model as a Hugging Face folder that works as {@code --model} on its own: with the tokenizer
   * files of {@code tokenizerSource}, or the byte tokenizer's marker when that is null.
   */
  public static void saveWholeModel(TransformerLm model, ScalarType dtype, Path tokenizerSource, Path modelDir) {
    Checkpoints.save(model, modelDir, dtype, Checkpoints.DEFAULT_MAX_SHARD_BYTES, folder -> {
      if (tokenizerSource == null) {
        ByteTextTokenizer.writeMarker(folder);
        return;
      }
      for (String name : TOKENIZER_FILES) {
        Path file = tokenizerSource.resolve(name);
        if (Files.isRegularFile(file)) {
          Files.copy(file, folder.resolve(name), StandardCopyOption.REPLACE_EXISTING);
        }
      }
    });
  }

  /**
   * Tidies what interrupted atomic writes left in the run folder and its immediate subfolders (checkpoints, the
   * final model, the SFT model): see {@link AtomicDirectory#recover}.
   *
   * @return the tidied entries, relative to {@code runDir}
   */
  public static List<String> recover(Path runDir) throws IOException {
    List<String> tidied = new ArrayList<>(AtomicDirectory.recover(runDir));
    List<Path> subfolders;
    try (Stream<Path> children = Files.list(runDir)) {
      subfolders = children.filter(Files::isDirectory).sorted().toList();
    }
    for (Path folder : subfolders) {
      for (String name : AtomicDirectory.recover(folder)) {
        tidied.add(runDir.relativize(folder.resolve(name)).toString());
      }
    }
    return tidied;
  }

  /** The run's checkpoints, oldest first. */
  public static List<Checkpoint> list(Path runDir) {
    Path dir = new RunFolder(runDir).checkpoints();
    List<Checkpoint> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (Stream<Path> children = Files.list(dir)) {
      children.forEach(child -> {
        Matcher m = STEP_FOLDER.matcher(child.getFileName().toString());
        if (m.matches() && Files.isRegularFile(child.resolve(TrainerState.FILE))) {
          out.add(new Checkpoint(Integer.parseInt(m.group(1)), child));
        }
      });
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
    }
    out.sort((a, b) -> Integer.compare(a.step(), b.step()));
    return out;
  }

  /** The newest checkpoint, or null if the run has none. */
  public static Checkpoint latest(Path runDir) {
    List<Checkpoint> all = list(runDir);
    return all.isEmpty() ? null : all.getLast();
  }

  private static void prune(Path runDir, int keep) {
    List<Checkpoint> all = list(runDir);
    for (int i = 0; i < all.size() - keep; i++) {
      try {
        AtomicDirectory.deleteRecursively(all.get(i).folder());
      } catch (IOException e) {
        throw new UncheckedIOException("cannot delete old checkpoint " + all.get(i).folder() + ": " + e.getMessage(),
            e);
      }
    }
  }
}
