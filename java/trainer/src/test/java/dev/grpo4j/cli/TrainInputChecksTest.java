package dev.grpo4j.cli;

import static dev.grpo4j.cli.TrainFixtures.assertOneLineError;
import static dev.grpo4j.cli.TrainFixtures.train;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.grpo4j.io.RunFolder;
import dev.grpo4j.model.Checkpoints;
import dev.grpo4j.model.LoraConfig;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Models;
import dev.grpo4j.report.RunLog;
import dev.grpo4j.report.StepMetrics;
import dev.grpo4j.text.ByteTextTokenizer;
import dev.grpo4j.train.AdapterBase;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Inputs that used to train silently on the wrong thing or fail with a native trace: integer group labels,
 * adapters applied to another base, degenerate pairs, over-long sequences, divergence, too many threads, and
 * checkpoints of built-in models that forgot their tokenizer.
 */
class TrainInputChecksTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path tmp;

  @Test
  void integerGroupsAreLabelsNotPositions() throws IOException {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 24; i++) {
      int group = 10 * (1 + i % 4);
      lines.add(pair("q" + i + "?", " yes", " no", Integer.toString(group)));
    }
    Path data = Files.write(tmp.resolve("numbered.jsonl"), lines);
    Path out = tmp.resolve("run");
    CliRun run = CliRun.of("train", "--model", "tiny-llama", "--train", data.toString(), "--steps", "2",
        "--batch-size", "4", "--threads", "1", "--no-progress", "--out", out.toString());
    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.err().contains("24 training pairs in 4 groups (10: 6, 20: 6, 30: 6, 40: 6)"), run.err());
    JsonNode groups = JSON.readTree(out.resolve(RunFolder.GROUPS).toFile()).get("groups");
    assertEquals(4, groups.size());
    assertEquals("40", groups.get(3).get("label").asText());
    assertEquals(6, groups.get(3).get("train_pairs").asInt());
    for (StepMetrics step : RunLog.readMetrics(RunLog.metricsFile(out))) {
      assertEquals(4, step.groupWeights().length, "four groups, not 41");
    }

    lines.set(5, pair("q5?", " yes", " no", "\"20\""));
    Path mixed = Files.write(tmp.resolve("mixed.jsonl"), lines);
    assertOneLineError(CliRun.of("train", "--model", "tiny-llama", "--train", mixed.toString(), "--steps", "1",
        "--out", tmp.resolve("mixed").toString(), "--no-progress"), "mixed.jsonl:6: field \"group\" is a string");
  }

  @Test
  void adaptersAfterSftRecordTheirTrueBaseAndAnotherBaseIsWarnedAbout() throws IOException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 21);
    Path out = tmp.resolve("lora");
    CliRun run = train(data, out, "--lora-rank", "2", "--sft-steps", "2", "--sft-lr", "1e-2", "--steps", "2");
    assertEquals(0, run.exitCode(), run.err());
    Path adapter = out.resolve("final/adapter");
    Path sft = out.resolve("sft/model").toAbsolutePath().normalize();
    JsonNode config = JSON.readTree(adapter.resolve(LoraConfig.CONFIG_FILE).toFile());
    assertEquals(sft.toString(), config.get("base_model_name_or_path").asText());
    assertEquals(sft.toString(), AdapterBase.read(adapter).orElseThrow().model());

    CliRun wrongBase = CliRun.of("eval", "--model", "tiny-llama", "--seed", "5", "--adapter", adapter.toString(),
        "--data", data.test().toString(), "--threads", "1");
    assertEquals(0, wrongBase.exitCode(), wrongBase.err());
    assertTrue(wrongBase.err().contains("warning: the adapters in " + adapter + " were trained on " + sft),
        wrongBase.err());
    CliRun rightBase = CliRun.of("eval", "--model", sft.toString(), "--adapter", adapter.toString(), "--data",
        data.test().toString(), "--threads", "1");
    assertEquals(0, rightBase.exitCode(), rightBase.err());
    assertFalse(rightBase.err().contains("warning"), rightBase.err());
  }

  @Test
  void degeneratePairsAreCountedAndAllDegenerateDataIsRefused() throws IOException {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      lines.add(pair("q" + i + "?", i % 4 == 1 ? " same" : " yes", i % 4 == 1 ? " same" : " no", "g" + i % 2));
    }
    Path some = Files.write(tmp.resolve("some.jsonl"), lines);
    CliRun warned = CliRun.of("train", "--model", "tiny-llama", "--train", some.toString(), "--steps", "1",
        "--threads", "1", "--no-progress", "--out", tmp.resolve("some").toString());
    assertEquals(0, warned.exitCode(), warned.err());
    assertTrue(warned.err().contains("warning: some.jsonl: 3 of 12 pairs have chosen and rejected responses with the "
        + "same tokens; their margin is always 0 (e.g. line 2: identical responses; line 6: identical responses; "
        + "line 10: identical responses)"), warned.err());

    // Different texts, the same tokens once cut to --max-length.
    List<String> cut = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      cut.add(pair("q" + i, " yes, surely", " yes, never", "g"));
    }
    Path all = Files.write(tmp.resolve("all.jsonl"), cut);
    CliRun refused = CliRun.of("train", "--model", "tiny-llama", "--train", all.toString(), "--steps", "1",
        "--max-length", "6", "--max-prompt-tokens", "2", "--no-progress", "--out", tmp.resolve("all").toString());
    assertOneLineError(refused, "all.jsonl: all 4 pairs have chosen and rejected responses with the same tokens");
    assertTrue(refused.err().contains("line 1: the same tokens after truncation"), refused.err());
    assertFalse(Files.exists(tmp.resolve("all").resolve("reference")), "refused before any reference scoring");
  }

  @Test
  void lengthsFitTheModelAndTooLongOnesNameTheOption() throws IOException {
    String longPrompt = "p".repeat(700);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      lines.add(pair(longPrompt + i, " yes", " no", "g" + i % 2));
    }
    Path data = Files.write(tmp.resolve("long.jsonl"), lines);
    CliRun fits = CliRun.of("train", "--model", "tiny-llama", "--train", data.toString(), "--steps", "1",
        "--batch-size", "2", "--threads", "1", "--no-progress", "--out", tmp.resolve("fits").toString());
    assertEquals(0, fits.exitCode(), fits.err());
    assertTrue(fits.err().contains("truncated 6 of 6 pairs to --max-length 512"), fits.err());

    assertOneLineError(CliRun.of("train", "--model", "tiny-llama", "--train", data.toString(), "--steps", "1",
        "--max-length", "1024", "--no-progress", "--out", tmp.resolve("long").toString()),
        "--max-length 1024 exceeds the model's max_position_embeddings = 512");
    assertOneLineError(CliRun.of("train", "--model", "tiny-llama", "--train", data.toString(), "--steps", "1",
        "--max-length", "100", "--max-prompt-tokens", "100", "--no-progress", "--out",
        tmp.resolve("prompt").toString()), "--max-prompt-tokens = 100: must be >= 1 and below --max-length (100)");
  }

  @Test
  void divergenceNamesTheStepAndTheFix() throws IOException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 22);
    CliRun run = train(data, tmp.resolve("nan"), "--lr", "1e9", "--max-grad-norm", "0", "--steps", "20");
    assertOneLineError(run, "the model produced NaN or infinite logits at step ");
    assertTrue(run.err().contains("Lower --lr"), run.err());
  }

  @Test
  void absurdValuesAndOptionsOfAnotherMethodAreRefusedUpFrontByTheirFlag() throws IOException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 25);
    assertOneLineError(train(data, tmp.resolve("eta"), "--eta", "1e308"), "--eta = 1.0E308: must be in [0, 10000.0]");
    assertOneLineError(train(data, tmp.resolve("beta"), "--beta", "1e300"),
        "--beta = 1.0E300: must be in (0, 10000.0]");
    assertOneLineError(train(data, tmp.resolve("adjustment"), "--adjustment", "Infinity"), "--adjustment = Infinity");
    assertOneLineError(train(data, tmp.resolve("norm"), "--max-grad-norm", "NaN"), "--max-grad-norm = NaN");
    assertOneLineError(train(data, tmp.resolve("ipo"), "--method", "gr-dpo", "--ipo-length-normalization"),
        "--ipo-length-normalization applies to the IPO methods (ipo, is-ipo, gr-ipo) only; --method gr-dpo is a DPO "
            + "method");
    assertOneLineError(train(data, tmp.resolve("smooth"), "--method", "ipo", "--label-smoothing", "0.1"),
        "--label-smoothing applies to the DPO methods");
    CliRun eval = CliRun.of("eval", "--model", "tiny-llama", "--reference", "tiny-llama", "--data",
        data.test().toString(), "--ipo-length-normalization");
    assertOneLineError(eval, "--ipo-length-normalization applies to the IPO methods");
    assertFalse(eval.err().contains("LossType"), eval.err());
    assertOneLineError(CliRun.of("train", "--model", "tiny-llama", "--train", tmp.toString(), "--out",
        tmp.resolve("folder").toString()), "--train " + tmp + " is a folder: name the data file in it");
    assertOneLineError(train(data, tmp.resolve("fp16"), "--dtype", "float16"),
        "--dtype float16: float16 training needs loss scaling and float32 master weights");
    for (String run : List.of("eta", "beta", "adjustment", "norm", "ipo", "smooth", "folder", "fp16")) {
      assertFalse(Files.exists(tmp.resolve(run).resolve("metrics.jsonl")), run + ": refused before training");
    }
  }

  @Test
  void aRunWhoseGradientVanishesIsToldSo() throws IOException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 26);
    CliRun run = train(data, tmp.resolve("dead"), "--lr", "1e6", "--steps", "15");
    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.err().contains("the gradient norm has been exactly 0 for 5 steps in a row, so the run learns "
        + "nothing"), run.err());
    CliRun healthy = train(data, tmp.resolve("alive"), "--steps", "8");
    assertFalse(healthy.err().contains("learns nothing"), healthy.err());
  }

  @Test
  void fusedHeadOptionsAreChecked() throws IOException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 24);
    assertOneLineError(train(data, tmp.resolve("mode"), "--steps", "1", "--fused-head", "maybe"),
        "--fused-head \"maybe\": use auto, on or off");
    assertOneLineError(train(data, tmp.resolve("memory"), "--steps", "1", "--fused-head-memory", "0"),
        "--fused-head-memory = 0: must be >= 1 (MB)");
    CliRun off = train(data, tmp.resolve("off"), "--steps", "1", "--fused-head", "off");
    assertEquals(0, off.exitCode(), off.err());
  }

  @Test
  void tooManyThreadsAreWarnedAbout() throws IOException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 23);
    CliRun run = train(data, tmp.resolve("threads"), "--steps", "1", "--threads", "4096");
    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.err().contains("warning: --threads 4096 is more than the"), run.err());
  }

  @Test
  void aBuiltInModelsCheckpointRemembersItsByteTokenizer() throws IOException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 24);
    Path out = tmp.resolve("run");
    assertEquals(0, train(data, out, "--steps", "2").exitCode());
    Path trained = out.resolve("final/model");
    assertTrue(Files.isRegularFile(trained.resolve(ByteTextTokenizer.MARKER_FILE)));
    assertTrue(Files.isRegularFile(out.resolve("checkpoints/step-00000002/model").resolve(
        ByteTextTokenizer.MARKER_FILE)));
    CliRun eval = CliRun.of("eval", "--model", trained.toString(), "--reference", "tiny-llama", "--seed", "5",
        "--data", data.test().toString(), "--threads", "1");
    assertEquals(0, eval.exitCode(), eval.err());

    Path bare = tmp.resolve("bare");
    Checkpoints.save(Models.random(ModelConfig.tiny("tiny-llama", 257), 1), bare, ScalarType.Float,
        Checkpoints.DEFAULT_MAX_SHARD_BYTES);
    assertOneLineError(CliRun.of("eval", "--model", bare.toString(), "--reference", "tiny-llama", "--data",
        data.test().toString()), "has no tokenizer.json");
  }

  private static String pair(String prompt, String chosen, String rejected, String group) {
    String g = group.startsWith("\"") || group.chars().allMatch(Character::isDigit) ? group : "\"" + group + "\"";
    return "{\"prompt\": \"" + prompt + "\", \"chosen\": \"" + chosen + "\", \"rejected\": \"" + rejected
        + "\", \"group\": " + g + "}";
  }
}
