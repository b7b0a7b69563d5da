package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.grpo4j.model.FamilyGoldens;
import dev.grpo4j.model.family.ModelFamilies;
import dev.grpo4j.safetensors.SafeTensorsCheckpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code grpo4j train} on every model family's tiny checkpoint, full fine-tuning and LoRA on the family's default
 * targets followed by {@code merge-adapter}: the saved folders keep the family's layout (the tensor names, shapes and
 * dtypes transformers wrote, its config.json but for the dtype), training moved the weights, and {@code score} reads
 * them back. With {@code -Dgrpo4j.roundTripDir=DIR} the saved folders (trained, merged, and the PEFT adapter with
 * its base) and grpo4j's scores of them are also copied to DIR/&lt;family&gt;/, for check_round_trip.py to load them
 * in transformers and PEFT and compare.
 */
class FamilyTrainCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path tmp;

  static Stream<String> families() throws Exception {
    return FamilyGoldens.families();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("families")
  void trainedAndMergedModelsKeepTheFamilyLayout(String family) throws Exception {
    Path source = FamilyGoldens.folder().resolve(family);
    Path pairs = source.resolve("pairs.jsonl");
    Path full = tmp.resolve("full");
    CliRun train = CliRun.of(trainArguments(source, pairs, full));
    assertEquals(0, train.exitCode(), train.err());
    Path trained = full.resolve("final/model");
    assertSameLayout(source, trained);

    Path lora = tmp.resolve("lora");
    List<String> loraArguments = new ArrayList<>(List.of(trainArguments(source, pairs, lora)));
    loraArguments.addAll(List.of("--lora-rank", "2", "--lora-alpha", "4"));
    CliRun loraTrain = CliRun.of(loraArguments.toArray(new String[0]));
    assertEquals(0, loraTrain.exitCode(), loraTrain.err());
    JsonNode adapterConfig = JSON.readTree(lora.resolve("final/adapter/adapter_config.json").toFile());
    List<String> targets = new ArrayList<>();
    adapterConfig.get("target_modules").forEach(t -> targets.add(t.asText()));
    String modelType = JSON.readTree(source.resolve("config.json").toFile()).get("model_type").asText();
    assertEquals(ModelFamilies.of(modelType).attentionProjections(), targets, "the family's attention projections");
    Path merged = tmp.resolve("merged");
    CliRun merge = CliRun.of("merge-adapter", "--model", source.toString(), "--adapter",
        lora.resolve("final/adapter").toString(), "--out", merged.toString(), "--save-dtype", "float32");
    assertEquals(0, merge.exitCode(), merge.err());
    assertSameLayout(source, merged);

    String roundTrip = System.getProperty("grpo4j.roundTripDir");
    Path adapter = lora.resolve("final/adapter");
    for (String saved : List.of("trained", "merged", "adapter")) {
      Path model = switch (saved) {
        case "trained" -> trained;
        case "merged" -> merged;
        default -> source;
      };
      Path scores = tmp.resolve(saved + "-scores.jsonl");
      List<String> score = new ArrayList<>(List.of("score", "--model", model.toString(), "--tokenizer",
          source.toString(), "--data", pairs.toString(), "--out", scores.toString(), "--threads", "1",
          "--no-progress"));
      if (saved.equals("adapter")) {
        score.addAll(List.of("--adapter", adapter.toString()));
      }
      CliRun run = CliRun.of(score.toArray(new String[0]));
      assertEquals(0, run.exitCode(), run.err());
      if (roundTrip != null) {
        // An adapter folder carries its base model in base/, as PEFT loads it.
        Path target = Path.of(roundTrip, family, saved);
        copyFolder(saved.equals("adapter") ? adapter : model, target);
        if (saved.equals("adapter")) {
          copyFolder(source, target.resolve("base"));
        }
        Files.copy(scores, target.resolve("grpo4j_scores.jsonl"), StandardCopyOption.REPLACE_EXISTING);
        Files.copy(pairs, target.resolve("pairs.jsonl"), StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  private static String[] trainArguments(Path model, Path pairs, Path out) {
    return new String[] {"train", "--model", model.toString(), "--train", pairs.toString(), "--steps", "2",
        "--batch-size", "2", "--lr", "1e-2", "--method", "gr-dpo", "--seed", "3", "--threads", "1", "--out",
        out.toString(), "--no-progress"};
  }

  /**
   * {@code saved} holds the tensors of {@code source} under the same names, shapes and dtypes, with other values, and
   * the same config.json but for the dtype field.
   */
  private static void assertSameLayout(Path source, Path saved) throws IOException {
    try (SafeTensorsCheckpoint want = SafeTensorsCheckpoint.open(source);
         SafeTensorsCheckpoint got = SafeTensorsCheckpoint.open(saved)) {
      assertEquals(want.names().stream().sorted().toList(), got.names().stream().sorted().toList(), saved + " names");
      boolean moved = false;
      for (String name : want.names()) {
        assertArrayEquals(want.info(name).shape(), got.info(name).shape(), name);
        assertEquals(want.info(name).dtype(), got.info(name).dtype(), name);
        moved |= !want.data(name).asByteBuffer().equals(got.data(name).asByteBuffer());
      }
      assertTrue(moved, saved + ": training moved no weight");
    }
    ObjectNode wantConfig = (ObjectNode) JSON.readTree(source.resolve("config.json").toFile());
    ObjectNode gotConfig = (ObjectNode) JSON.readTree(saved.resolve("config.json").toFile());
    for (ObjectNode c : List.of(wantConfig, gotConfig)) {
      c.remove(List.of("dtype", "torch_dtype"));
    }
    assertEquals(wantConfig, gotConfig, saved + "/config.json");
    assertNotEquals(null, gotConfig.get("model_type"));
  }

  private static void copyFolder(Path from, Path to) throws IOException {
    Files.createDirectories(to);
    try (Stream<Path> files = Files.list(from)) {
      for (Path f : files.toList()) {
        Files.copy(f, to.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }
}
