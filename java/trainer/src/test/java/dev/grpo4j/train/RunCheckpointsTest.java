package dev.grpo4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.model.Checkpoints;
import dev.grpo4j.model.LoraAdapters;
import dev.grpo4j.model.LoraConfig;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Models;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.platform.HostTensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link RunCheckpoints}: which folders count as checkpoints, pruning to the newest ones, the files of a saved
 * checkpoint, and that a restored AdamW continues bit-identically to the one that was saved.
 */
@SuppressWarnings("try") // PointerScope acts by existing
class RunCheckpointsTest {
  private static final int VOCAB = 257;
  private static final long[] IDS = {1, 17, 42, 200, 256, 3, 99, 0, 128, 7};

  private static TrainerState state(int step) {
    return new TrainerState(step, 4L * step, List.of("g0", "g1"), new double[] {-0.5 * step, 0.25}, step,
        new PlateauScaler.State(Double.POSITIVE_INFINITY, 0, 1.0, 0), 100L * step, step / 3.0);
  }

  private static TransformerLm tinyModel(long seed) {
    return Models.random(ModelConfig.tiny("tiny-llama", VOCAB), seed);
  }

  @Test
  void listKeepsOnlyCompleteStepFoldersSortedByStep(@TempDir Path run) throws IOException {
    Path dir = run.resolve(RunCheckpoints.FOLDER);
    for (String name : List.of("step-00000012", "step-00000005", "step-00000100")) {
      Files.createDirectories(dir.resolve(name));
      state(Integer.parseInt(name.substring(5))).write(dir.resolve(name));
    }
    // Each of these is ignored: no state file, a name of the wrong form, or a half-written hidden folder.
    Files.createDirectories(dir.resolve("step-00000300"));
    for (String name : List.of("step-12", "step-000000400", "step-0000005x", ".step-00000500.partial-1a2b3c4d",
        "other")) {
      Files.createDirectories(dir.resolve(name));
      state(7).write(dir.resolve(name));
    }
    Files.writeString(dir.resolve("step-00000600"), "a file, not a folder");

    List<RunCheckpoints.Checkpoint> all = RunCheckpoints.list(run);
    assertEquals(List.of(5, 12, 100), all.stream().map(RunCheckpoints.Checkpoint::step).toList());
    assertEquals(dir.resolve("step-00000005"), all.getFirst().folder());
    RunCheckpoints.Checkpoint latest = RunCheckpoints.latest(run);
    assertEquals(100, latest.step());
    TrainerStateTest.assertSameState(state(100), latest.state());
  }

  @Test
  void runWithoutCheckpointsHasNone(@TempDir Path run) throws IOException {
    assertEquals(List.of(), RunCheckpoints.list(run));
    assertNull(RunCheckpoints.latest(run));
    Files.createDirectories(run.resolve(RunCheckpoints.FOLDER).resolve("step-00000001"));
    assertNull(RunCheckpoints.latest(run), "a folder without its state file is not a checkpoint");
  }

  @Test
  void savedCheckpointHoldsModelOptimizerAndStateAndOnlyTheNewestAreKept(@TempDir Path run) throws IOException {
    TransformerLm model = tinyModel(1);
    AdamW optimizer = new AdamW(model.parameters(), new AdamWOptions(1e-2));
    for (int step = 1; step <= 3; step++) {
      Path folder = RunCheckpoints.save(run, model, PolicyLayout.wholeModel(ScalarType.Float, null), optimizer, state(step), 2);
      assertEquals(run.resolve(RunCheckpoints.FOLDER).resolve(String.format(Locale.ROOT, "step-%08d", step)), folder);
    }
    assertEquals(List.of(2, 3), RunCheckpoints.list(run).stream().map(RunCheckpoints.Checkpoint::step).toList());
    assertFalse(Files.exists(run.resolve(RunCheckpoints.FOLDER).resolve("step-00000001")));
    try (var children = Files.list(run.resolve(RunCheckpoints.FOLDER))) {
      assertEquals(2, children.count(), "no staging folders are left behind");
    }

    Path folder = RunCheckpoints.latest(run).folder();
    assertTrue(Files.isRegularFile(folder.resolve(RunCheckpoints.MODEL).resolve("config.json")));
    assertTrue(Files.isRegularFile(folder.resolve(RunCheckpoints.MODEL).resolve("model.safetensors")));
    assertTrue(Files.isRegularFile(folder.resolve(RunCheckpoints.OPTIMIZER)));
    assertTrue(Files.isRegularFile(folder.resolve(TrainerState.FILE)));
    assertFalse(Files.exists(folder.resolve(RunCheckpoints.ADAPTER)), "a full model saves no adapter folder");
    TrainerStateTest.assertSameState(state(3), RunCheckpoints.latest(run).state());
  }

  @Test
  void saveModelCopiesTheTokenizerFiles(@TempDir Path dir) throws IOException {
    Path tokenizer = Files.createDirectories(dir.resolve("tokenizer"));
    Files.writeString(tokenizer.resolve("tokenizer.json"), "{\"t\": 1}");
    Files.writeString(tokenizer.resolve("tokenizer_config.json"), "{}");
    Files.writeString(tokenizer.resolve("unrelated.txt"), "x");
    Path folder = Files.createDirectories(dir.resolve("checkpoint"));
    RunCheckpoints.saveModel(tinyModel(2), PolicyLayout.wholeModel(ScalarType.Float, tokenizer), folder);
    Path model = folder.resolve(RunCheckpoints.MODEL);
    assertEquals("{\"t\": 1}", Files.readString(model.resolve("tokenizer.json")));
    assertTrue(Files.isRegularFile(model.resolve("tokenizer_config.json")));
    assertFalse(Files.exists(model.resolve("unrelated.txt")));
  }

  @Test
  void saveModelWithLoraSavesOnlyTheAdapters(@TempDir Path dir) throws IOException {
    TransformerLm model = tinyModel(3);
    LoraConfig lora = new ModelSpec.LoraSettings(2, 4, 0, List.of("q_proj", "v_proj"))
        .toConfig("tiny-llama");
    LoraAdapters.attach(model, lora, 4);
    Path folder = Files.createDirectories(dir.resolve("checkpoint"));
    RunCheckpoints.saveModel(model, new PolicyLayout(lora, null, ScalarType.Float, null), folder);
    assertTrue(Files.isRegularFile(folder.resolve(RunCheckpoints.ADAPTER).resolve("adapter_config.json")));
    assertTrue(Files.isRegularFile(folder.resolve(RunCheckpoints.ADAPTER).resolve("adapter_model.safetensors")));
    assertFalse(Files.exists(folder.resolve(RunCheckpoints.MODEL)));
  }

  @Test
  void restoredOptimizerContinuesBitIdentically(@TempDir Path run) throws IOException {
    TransformerLm original = tinyModel(4);
    AdamW originalOptimizer = new AdamW(original.parameters(), new AdamWOptions(1e-2));
    step(original, originalOptimizer);
    step(original, originalOptimizer);
    RunCheckpoints.save(run, original, PolicyLayout.wholeModel(ScalarType.Float, null), originalOptimizer, state(2), 1);
    RunCheckpoints.Checkpoint checkpoint = RunCheckpoints.latest(run);

    TransformerLm resumed = Checkpoints.load(checkpoint.folder().resolve(RunCheckpoints.MODEL), ScalarType.Float);
    AdamW resumedOptimizer = new AdamW(resumed.parameters(), new AdamWOptions(1e-2));
    checkpoint.restoreOptimizer(resumedOptimizer);
    // Control: the same weights with a fresh AdamW take a different third step (no moments, step count 1), so
    // equality below is owed to the restored state.
    TransformerLm fresh = Checkpoints.load(checkpoint.folder().resolve(RunCheckpoints.MODEL), ScalarType.Float);
    AdamW freshOptimizer = new AdamW(fresh.parameters(), new AdamWOptions(1e-2));
    assertIdentical(original, resumed, true);

    step(original, originalOptimizer);
    step(resumed, resumedOptimizer);
    step(fresh, freshOptimizer);
    assertIdentical(original, resumed, true);
    assertIdentical(original, fresh, false);
  }

  private static void step(TransformerLm model, AdamW optimizer) {
    try (PointerScope scope = new PointerScope()) {
      optimizer.zero_grad();
      model.forward(HostTensors.longs(IDS, 2, 5)).square().sum().backward();
      optimizer.step();
    }
  }

  private static void assertIdentical(TransformerLm expected, TransformerLm actual, boolean identical) {
    Map<String, Tensor> a = actual.namedParameters();
    boolean allEqual = true;
    try (PointerScope scope = new PointerScope()) {
      for (Map.Entry<String, Tensor> e : expected.namedParameters().entrySet()) {
        boolean equal = Arrays.equals(HostTensors.toFloats(e.getValue()), HostTensors.toFloats(a.get(e.getKey())));
        if (identical) {
          assertTrue(equal, e.getKey() + " differs");
        }
        allEqual &= equal;
      }
    }
    assertEquals(identical, allEqual);
  }
}
