package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.model.Checkpoints;
import dev.grpo4j.model.LoraAdapters;
import dev.grpo4j.model.LoraConfig;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Models;
import dev.grpo4j.model.TestModels;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.testing.Close;
import dev.grpo4j.text.ByteTextTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@SuppressWarnings("try") // PointerScope and NoGradGuard act by existing
class MergeAdapterCommandTest {
  @Test
  void mergedFolderLoadsWithoutPeftAndGivesTheAdaptedLogits(@TempDir Path tmp) throws IOException {
    TransformerLm model = Models.random(ModelConfig.tiny("tiny-llama", 257), 2);
    Path base = tmp.resolve("base");
    Checkpoints.save(model, base, ScalarType.Float, Checkpoints.DEFAULT_MAX_SHARD_BYTES);
    LoraConfig lora = new LoraConfig(3, 6, 0, List.of("v_proj", "gate_proj", "lm_head"), "base");
    LoraAdapters.attach(model, lora, 1);
    TestModels.randomizeAdapters(model, 0.1);
    Path adapter = tmp.resolve("adapter");
    Checkpoints.saveAdapters(model, lora, adapter);
    model.eval();

    double[] adapted = logits(model);

    Path merged = tmp.resolve("merged");
    CliRun run = CliRun.of("merge-adapter", "--model", base.toString(), "--adapter", adapter.toString(), "--out",
        merged.toString(), "--save-dtype", "float32");
    assertEquals(0, run.exitCode(), run.err());
    assertFalse(Files.exists(merged.resolve(LoraConfig.CONFIG_FILE)), "a plain model folder");
    TransformerLm loaded = Checkpoints.load(merged, ScalarType.Float);
    loaded.eval();
    Close.assertClose("merged logits", logits(loaded), adapted, 1e-5, 1e-4);

    CliRun noAdapter = CliRun.of("merge-adapter", "--model", base.toString(), "--out", merged.toString());
    assertEquals(2, noAdapter.exitCode());
    assertTrue(noAdapter.err().contains("--adapter"), noAdapter.err());
  }

  @Test
  void anExistingOutputIsNeverLost(@TempDir Path tmp) throws IOException {
    TransformerLm model = Models.random(ModelConfig.tiny("tiny-llama", 257), 2);
    LoraConfig lora = new LoraConfig(2, 4, 0, List.of("q_proj"), "tiny-llama");
    LoraAdapters.attach(model, lora, 1);
    Path adapter = tmp.resolve("adapter");
    Checkpoints.saveAdapters(model, lora, adapter);
    String[] merge = {"merge-adapter", "--model", "tiny-llama", "--adapter", adapter.toString()};

    Path file = Files.writeString(tmp.resolve("notes.txt"), "mine");
    assertRefused(run(merge, "--out", file.toString()), "is a file");
    assertEquals("mine", Files.readString(file));

    Path folder = Files.createDirectories(tmp.resolve("mine"));
    Path notes = Files.writeString(folder.resolve("notes.txt"), "mine");
    assertRefused(run(merge, "--out", folder.toString()), "is not empty (it holds notes.txt); pass --overwrite");
    assertRefused(run(merge, "--out", folder.toString(), "--overwrite"),
        "holds files merge-adapter does not write (notes.txt)");
    assertEquals("mine", Files.readString(notes));

    Path merged = tmp.resolve("merged");
    assertEquals(0, run(merge, "--out", merged.toString()).exitCode());
    assertTrue(Files.isRegularFile(merged.resolve(ByteTextTokenizer.MARKER_FILE)),
        "a merge of a built-in model records its byte tokenizer");
    assertRefused(run(merge, "--out", merged.toString()), "is not empty");
    CliRun again = run(merge, "--out", merged.toString(), "--overwrite");
    assertEquals(0, again.exitCode(), again.err());
  }

  @Test
  void theInputFoldersAreNeverTheOutput(@TempDir Path tmp) throws IOException {
    TransformerLm model = Models.random(ModelConfig.tiny("tiny-llama", 257), 2);
    Path base = tmp.resolve("base");
    Checkpoints.save(model, base, ScalarType.Float, Checkpoints.DEFAULT_MAX_SHARD_BYTES);
    LoraConfig lora = new LoraConfig(2, 4, 0, List.of("q_proj"), "base");
    LoraAdapters.attach(model, lora, 1);
    Path adapter = tmp.resolve("adapter");
    Checkpoints.saveAdapters(model, lora, adapter);
    List<String> before = listing(base);
    String[] merge = {"merge-adapter", "--model", base.toString(), "--adapter", adapter.toString(), "--overwrite"};

    assertRefused(run(merge, "--out", base.toString()), "is --model " + base);
    assertRefused(run(merge, "--out", tmp.resolve("base/../base/").toString()), "is --model");
    assertRefused(run(merge, "--out", base.resolve("merged").toString()), "lies inside --model");
    assertRefused(run(merge, "--out", tmp.toString()), "holds --model");
    assertRefused(run(merge, "--out", adapter.toString()), "is --adapter");
    Path link = Files.createSymbolicLink(tmp.resolve("link"), base);
    assertRefused(run(merge, "--out", link.toString()), "is --model");

    assertEquals(before, listing(base));
    Checkpoints.load(base, ScalarType.Float);
  }

  @Test
  void theMergedFolderCarriesTheTokenizerAndTemplateAlsoWhenItReplacesAnEarlierOne(@TempDir Path tmp)
      throws IOException {
    Path base = TrainFixtures.instructModel(tmp);
    TransformerLm model = Checkpoints.load(base, ScalarType.Float);
    LoraConfig lora = new LoraConfig(2, 4, 0, List.of("q_proj"), base.toString());
    LoraAdapters.attach(model, lora, 1);
    Path adapter = tmp.resolve("adapter");
    Checkpoints.saveAdapters(model, lora, adapter);
    Path merged = tmp.resolve("merged");
    String[] merge = {"merge-adapter", "--model", base.toString(), "--adapter", adapter.toString(), "--out",
        merged.toString()};
    for (String[] run : List.of(merge, java.util.stream.Stream.concat(java.util.Arrays.stream(merge),
        java.util.stream.Stream.of("--overwrite")).toArray(String[]::new))) {
      CliRun result = CliRun.of(run);
      assertEquals(0, result.exitCode(), result.err());
      for (String file : List.of("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")) {
        assertArrayEquals(Files.readAllBytes(base.resolve(file)), Files.readAllBytes(merged.resolve(file)), file);
      }
    }
    CliRun score = CliRun.of("eval", "--model", merged.toString(), "--reference", base.toString(), "--data",
        TrainFixtures.Data.writeWords(tmp).test().toString(), "--threads", "1");
    assertEquals(0, score.exitCode(), score.err());
  }

  private static List<String> listing(Path folder) throws IOException {
    try (var files = Files.list(folder)) {
      return files.map(f -> f.getFileName() + ":" + f.toFile().length()).sorted().toList();
    }
  }

  private static CliRun run(String[] command, String... more) {
    List<String> args = new java.util.ArrayList<>(List.of(command));
    args.addAll(List.of(more));
    return CliRun.of(args.toArray(new String[0]));
  }

  private static void assertRefused(CliRun run, String expected) {
    assertEquals(1, run.exitCode(), run.err());
    assertTrue(run.err().contains(expected), run.err());
  }

  private static double[] logits(TransformerLm model) {
    try (PointerScope scope = new PointerScope()) {
      return HostTensors.toDoubles(model.forward(HostTensors.longs(new long[] {5, 80, 200, 31, 7, 9}, 2, 3)));
    }
  }
}
