package dev.grpo4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.grpo4j.io.AtomicDirectory;
import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.testing.Close;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@SuppressWarnings("try") // PointerScope and NoGradGuard act by existing
class CheckpointsTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path tmp;

  private static TransformerLm tiny(String name, long seed) {
    return Models.random(ModelConfig.tiny(name, 257), seed);
  }

  private static double[] logits(TransformerLm model) {
    try (PointerScope scope = new PointerScope()) {
      return HostTensors.toDoubles(model.forward(LoraAdaptersTest.inputs()));
    }
  }

  private static void assertSameParameters(TransformerLm a, TransformerLm b) {
    assertEquals(List.copyOf(a.namedParameters().keySet()), List.copyOf(b.namedParameters().keySet()));
    for (String name : a.namedParameters().keySet()) {
      assertArrayEquals(HostTensors.toDoubles(a.namedParameters().get(name)),
          HostTensors.toDoubles(b.namedParameters().get(name)), name);
    }
  }

  @Test
  void saveLoadSaveIsBitIdenticalUnshardedAndSharded() throws IOException {
    for (String name : new String[] {"tiny-llama", "tiny-qwen2"}) {
      TransformerLm model = tiny(name, 3);
      Path single = tmp.resolve(name + "-single");
      Path sharded = tmp.resolve(name + "-sharded");
      Checkpoints.save(model, single, ScalarType.Float, Checkpoints.DEFAULT_MAX_SHARD_BYTES);
      Checkpoints.save(model, sharded, ScalarType.Float, 40_000);
      assertTrue(Files.exists(single.resolve("model.safetensors")));
      assertTrue(Files.exists(sharded.resolve("model.safetensors.index.json")));
      try (Stream<Path> files = Files.list(sharded)) {
        assertTrue(files.filter(p -> p.getFileName().toString().matches("model-\\d{5}-of-\\d{5}\\.safetensors"))
            .count() > 2, "several shards");
      }
      for (Path dir : new Path[] {single, sharded}) {
        TransformerLm loaded = Checkpoints.load(dir, ScalarType.Float);
        assertSameParameters(model, loaded);
        assertArrayEquals(logits(model), logits(loaded), dir + " logits");
        Path again = tmp.resolve(dir.getFileName() + "-again");
        Checkpoints.save(loaded, again, ScalarType.Float, Checkpoints.DEFAULT_MAX_SHARD_BYTES);
        assertArrayEquals(Files.readAllBytes(single.resolve("model.safetensors")),
            Files.readAllBytes(again.resolve("model.safetensors")), "re-saved file is byte-identical");
      }
      ObjectNode config = (ObjectNode) JSON.readTree(single.resolve("config.json").toFile());
      assertEquals(name.equals("tiny-llama") ? "LlamaForCausalLM" : "Qwen2ForCausalLM",
          config.get("architectures").get(0).asText());
      assertEquals("float32", config.get("torch_dtype").asText());
    }
  }

  @Test
  void bfloat16WeightsRoundTrip() throws IOException {
    TransformerLm model = tiny("tiny-llama", 4);
    Path dir = tmp.resolve("bf16");
    Checkpoints.save(model, dir, ScalarType.BFloat16, Checkpoints.DEFAULT_MAX_SHARD_BYTES);
    assertEquals("bfloat16", JSON.readTree(dir.resolve("config.json").toFile()).get("torch_dtype").asText());
    TransformerLm asBf16 = Checkpoints.load(dir, ScalarType.BFloat16);
    TransformerLm asF32 = Checkpoints.load(dir, ScalarType.Float);
    for (Map.Entry<String, Tensor> e : model.namedParameters().entrySet()) {
      Tensor rounded = e.getValue().to(ScalarType.BFloat16);
      assertArrayEquals(HostTensors.toDoubles(rounded), HostTensors.toDoubles(asBf16.namedParameters().get(e.getKey())),
          e.getKey());
      assertArrayEquals(HostTensors.toDoubles(rounded), HostTensors.toDoubles(asF32.namedParameters().get(e.getKey())),
          e.getKey() + " widened exactly");
    }
    Path again = tmp.resolve("bf16-again");
    Checkpoints.save(asBf16, again, ScalarType.BFloat16, Checkpoints.DEFAULT_MAX_SHARD_BYTES);
    assertArrayEquals(Files.readAllBytes(dir.resolve("model.safetensors")),
        Files.readAllBytes(again.resolve("model.safetensors")));
  }

  @Test
  void peftAdaptersRoundTripAndMergeAndSave() throws IOException {
    TransformerLm model = tiny("tiny-qwen2", 5);
    Path base = tmp.resolve("base");
    Checkpoints.save(model, base, ScalarType.Float, Checkpoints.DEFAULT_MAX_SHARD_BYTES);
    LoraConfig lora = new LoraConfig(4, 16, 0.05, List.of("q_proj", "k_proj", "v_proj", "o_proj"), base.toString());
    LoraAdapters.attach(model, lora, 7);
    TestModels.randomizeAdapters(model, 0.05);
    model.eval();
    double[] adapted = logits(model);
    Path adapterDir = tmp.resolve("adapter");
    Checkpoints.saveAdapters(model, lora, adapterDir);
    assertTrue(Files.exists(adapterDir.resolve("adapter_model.safetensors")));
    ObjectNode peft = (ObjectNode) JSON.readTree(adapterDir.resolve("adapter_config.json").toFile());
    assertEquals("LORA", peft.get("peft_type").asText());
    assertEquals(4, peft.get("r").asInt());

    TransformerLm reloaded = Checkpoints.load(base, ScalarType.Float);
    assertEquals(lora, Checkpoints.loadAdapters(reloaded, adapterDir));
    reloaded.eval();
    assertArrayEquals(adapted, logits(reloaded), "base + PEFT adapters = the adapted model");

    LoraAdapters.merge(reloaded);
    Path merged = tmp.resolve("merged");
    Checkpoints.save(reloaded, merged, ScalarType.Float, Checkpoints.DEFAULT_MAX_SHARD_BYTES);
    Close.assertClose("merged and saved", logits(Checkpoints.load(merged, ScalarType.Float)), adapted, 1e-5, 1e-4);
  }

  @Test
  void badFoldersGiveClearErrors() throws IOException {
    assertMessage(tmp.resolve("nowhere"), "does not exist");
    Path empty = Files.createDirectories(tmp.resolve("empty"));
    assertMessage(empty, "no config.json");

    TransformerLm model = tiny("tiny-llama", 6);
    Path good = tmp.resolve("good");
    Checkpoints.save(model, good, ScalarType.Float, Checkpoints.DEFAULT_MAX_SHARD_BYTES);

    Path noWeights = copy(good, "no-weights");
    Files.delete(noWeights.resolve("model.safetensors"));
    assertMessage(noWeights, "model.safetensors");

    Path unknownType = copy(good, "unknown-type");
    editConfig(unknownType, c -> c.put("model_type", "mamba"));
    assertMessage(unknownType, "model_type \"mamba\"");

    Path wrongShape = copy(good, "wrong-shape");
    editConfig(wrongShape, c -> c.put("intermediate_size", 100));
    assertMessage(wrongShape, "mlp.gate_proj.weight");

    Path wrongLayers = copy(good, "wrong-layers");
    editConfig(wrongLayers, c -> c.put("num_hidden_layers", 3));
    assertMessage(wrongLayers, "missing (model.layers.2.");

    Path truncated = copy(good, "truncated");
    try (RandomAccessFile f = new RandomAccessFile(truncated.resolve("model.safetensors").toFile(), "rw")) {
      f.setLength(f.length() - 100);
    }
    assertMessage(truncated, "truncated");

    Path notAdapter = Files.createDirectories(tmp.resolve("not-adapter"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Checkpoints.loadAdapters(tiny("tiny-llama", 1), notAdapter));
    assertTrue(e.getMessage().contains("adapter_config.json"), e.getMessage());
  }

  @Test
  void failedSaveLeavesTheTargetAsItWas() throws IOException {
    Path target = tmp.resolve("out");
    Checkpoints.save(tiny("tiny-llama", 8), target, ScalarType.Float, Checkpoints.DEFAULT_MAX_SHARD_BYTES);
    byte[] before = Files.readAllBytes(target.resolve("model.safetensors"));
    assertThrows(IllegalStateException.class, () -> AtomicDirectory.write(target, folder -> {
      Files.writeString(folder.resolve("model.safetensors"), "half");
      throw new IllegalStateException("crash mid-save");
    }));
    assertArrayEquals(before, Files.readAllBytes(target.resolve("model.safetensors")), "old folder intact");
    try (Stream<Path> siblings = Files.list(tmp)) {
      assertEquals(List.of(target), siblings.toList(), "no staging folder left behind");
    }
    assertThrows(UncheckedIOException.class, () -> AtomicDirectory.write(target, folder -> {
      throw new IOException("disk full");
    }));
    assertFalse(Files.exists(target.resolve("half")));
  }

  private static void assertMessage(Path dir, String fragment) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Checkpoints.load(dir, ScalarType.Float));
    assertTrue(e.getMessage().contains(fragment), "expected \"" + fragment + "\" in: " + e.getMessage());
  }

  private Path copy(Path from, String name) throws IOException {
    Path to = Files.createDirectories(tmp.resolve(name));
    try (Stream<Path> files = Files.list(from)) {
      for (Path f : files.toList()) {
        Files.copy(f, to.resolve(f.getFileName()));
      }
    }
    return to;
  }

  private static void editConfig(Path dir, java.util.function.Consumer<ObjectNode> edit) throws IOException {
    ObjectNode config = (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
    edit.accept(config);
    JSON.writeValue(dir.resolve("config.json").toFile(), config);
  }
}
