package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import dev.grpo4j.text.HuggingFaceTextTokenizer;
import dev.grpo4j.text.TextTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code grpo4j score} end to end, checked against log-probs computed by libtorch's own log_softmax and gather on
 * each pair's unpadded row of the same model.
 */
@SuppressWarnings("try") // PointerScope and NoGradGuard act by existing
class ScoreCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * A word-level tokenizer over the words of {@link #PAIRS} (the train and eval tests use it too), with a BOS token
   * the prompts get.
   */
  static final String TOKENIZER = """
      {"version": "1.0", "truncation": null, "padding": null,
       "added_tokens": [
         {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false,
          "special": true},
         {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false,
          "special": true},
         {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false,
          "special": true}],
       "normalizer": null, "pre_tokenizer": {"type": "Whitespace"},
       "post_processor": {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                  {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
       "decoder": null,
       "model": {"type": "WordLevel", "unk_token": "<unk>",
         "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "what": 3, "colour": 4, "is": 5, "the": 6, "sky": 7, "?": 8,
                   "blue": 9, "green": 10, "grass": 11, "it": 12, "very": 13, "a": 14, "question": 15}}}
      """;

  private static final String PAIRS = """
      {"prompt": "what colour is the sky ?", "chosen": "blue", "rejected": "green", "group": "north"}
      {"prompt": "what colour is the grass ?", "chosen": "it is green", "rejected": "blue", "group": "south"}

      {"prompt": "a question", "chosen": "very very blue", "rejected": "green", "group": "north", "id": 7}
      """;

  @TempDir
  Path tmp;

  @Test
  void builtInModelScoresEqualLibtorchLogSoftmaxOnUnpaddedRows() throws IOException {
    Path data = Files.writeString(tmp.resolve("pairs.jsonl"), PAIRS);
    Path out = tmp.resolve("ref.jsonl");
    CliRun run = CliRun.of("score", "--model", "tiny-llama", "--seed", "3", "--data", data.toString(), "--out",
        out.toString(), "--batch-size", "2", "--append-eos", "--no-progress");
    assertEquals(0, run.exitCode(), run.err());

    TransformerLm model = Models.random(ModelConfig.tiny("tiny-llama", 257), 3);
    model.eval();
    try (TextTokenizer tokenizer = ByteTextTokenizer.withEos()) {
      assertMatchesLibtorch(out, model, tokenizer, true);
    }
  }

  @Test
  void huggingFaceFolderWithAdapterScoresEqualLibtorch() throws IOException {
    TransformerLm model = Models.random(ModelConfig.tiny("tiny-qwen2", 16), 4);
    Path dir = tmp.resolve("model");
    Checkpoints.save(model, dir, ScalarType.Float, Checkpoints.DEFAULT_MAX_SHARD_BYTES);
    Files.writeString(dir.resolve("tokenizer.json"), TOKENIZER);
    LoraConfig lora = new LoraConfig(2, 4, 0, List.of("q_proj", "up_proj"), dir.toString());
    LoraAdapters.attach(model, lora, 5);
    TestModels.randomizeAdapters(model, 0.2);
    Path adapter = tmp.resolve("adapter");
    Checkpoints.saveAdapters(model, lora, adapter);
    model.eval();

    Path data = Files.writeString(tmp.resolve("pairs.jsonl"), PAIRS);
    Path out = tmp.resolve("ref.jsonl");
    CliRun run = CliRun.of("score", "--model", dir.toString(), "--adapter", adapter.toString(), "--data",
        data.toString(), "--out", out.toString(), "--threads", "1", "--no-progress");
    assertEquals(0, run.exitCode(), run.err());
    try (TextTokenizer tokenizer = HuggingFaceTextTokenizer.fromFolder(dir)) {
      assertMatchesLibtorch(out, model, tokenizer, false);
    }
  }

  @Test
  void aParquetFileIsReadWithoutTheReadersLogLines() throws IOException {
    Path parquet = tmp.resolve("pairs.parquet");
    try (var in = getClass().getResourceAsStream("/dev/grpo4j/data/standard.parquet")) {
      Files.copy(in, parquet);
    }
    try (ChildJvm score = ChildJvm.grpo4j(tmp, "parquet", java.util.Map.of(), List.of(), "score", "--model",
        "tiny-llama", "--data", parquet.toString(), "--out", tmp.resolve("scores.jsonl").toString())) {
      assertEquals(0, score.waitFor(java.time.Duration.ofSeconds(120)), score.output());
      assertFalse(score.stderr().contains("SIMD"), "hardwood's INFO lines stay out of the output:\n" + score.stderr());
    }
  }

  @Test
  void badInputsFailWithOneLineAndNoOutputFile() throws IOException {
    Path out = tmp.resolve("ref.jsonl");
    Path data = Files.writeString(tmp.resolve("pairs.jsonl"), PAIRS);

    CliRun missing = CliRun.of("score", "--model", "tiny-llama", "--data", tmp.resolve("nope.jsonl").toString(),
        "--out", out.toString(), "--no-progress");
    assertEquals(1, missing.exitCode());
    assertTrue(missing.err().contains("nope.jsonl"), missing.err());
    assertFalse(missing.err().contains("\tat "), "no stack trace:\n" + missing.err());

    Path bad = Files.writeString(tmp.resolve("bad.jsonl"), PAIRS + "{\"prompt\": \"x\", \"chosen\": \"y\"}\n");
    CliRun badLine = CliRun.of("score", "--model", "tiny-llama", "--data", bad.toString(), "--out", out.toString(),
        "--no-progress");
    assertEquals(1, badLine.exitCode());
    assertTrue(badLine.err().contains("bad.jsonl:5:"), badLine.err());

    CliRun skipped = CliRun.of("score", "--model", "tiny-llama", "--data", bad.toString(), "--out", out.toString(),
        "--skip-bad-lines", "--no-progress");
    assertEquals(0, skipped.exitCode(), skipped.err());
    assertTrue(skipped.err().contains("skipped 1 malformed"), skipped.err());
    assertEquals(3, Files.readAllLines(out).size());
    Files.delete(out);

    CliRun unknownModel = CliRun.of("score", "--model", tmp.resolve("no-model").toString(), "--data",
        data.toString(), "--out", out.toString(), "--no-progress");
    assertEquals(1, unknownModel.exitCode());
    assertTrue(unknownModel.err().contains("not a built-in model"), unknownModel.err());

    Path small = tmp.resolve("small-vocab");
    Checkpoints.save(Models.random(ModelConfig.tiny("tiny-llama", 10), 1), small, ScalarType.Float,
        Checkpoints.DEFAULT_MAX_SHARD_BYTES);
    Files.writeString(small.resolve("tokenizer.json"), TOKENIZER);
    CliRun mismatch = CliRun.of("score", "--model", small.toString(), "--data", data.toString(), "--out",
        out.toString(), "--no-progress");
    assertEquals(1, mismatch.exitCode());
    assertTrue(mismatch.err().contains("vocab mismatch"), mismatch.err());

    CliRun noCuda = CliRun.of("score", "--model", "tiny-llama", "--data", data.toString(), "--out", out.toString(),
        "--device", "cuda", "--no-progress");
    if (!torch.cuda_is_available()) {
      assertEquals(1, noCuda.exitCode());
      assertTrue(noCuda.err().contains("--device cuda: this build bundles bytedeco's CPU libtorch only: build with "
          + "./mvnw -Pgpu"), noCuda.err());
    }
    try (Stream<Path> files = Files.list(tmp)) {
      assertTrue(files.noneMatch(p -> p.getFileName().toString().startsWith(".ref.jsonl")), "no partial output");
    }
    assertFalse(Files.exists(out), "failed runs leave no output");
  }

  @Test
  void helpDocumentsEveryOption() {
    CliRun help = CliRun.of("score", "--help");
    assertEquals(0, help.exitCode());
    for (String option : List.of("--model", "--adapter", "--data", "--out", "--batch-size", "--max-prompt-tokens",
        "--max-length", "--append-eos", "--dtype", "--device", "--threads", "--seed", "--skip-bad-lines")) {
      assertTrue(help.out().contains(option), option + " in\n" + help.out());
    }
  }

  /**
   * Each output line carries the input's fields and the log-probs libtorch gives on the pair's own unpadded row:
   * sum over response positions of {@code log_softmax(logits)[t-1, token_t]}.
   */
  private static void assertMatchesLibtorch(Path out, TransformerLm model, TextTokenizer tokenizer, boolean eos)
      throws IOException {
    List<JsonNode> lines = new ArrayList<>();
    for (String line : Files.readAllLines(out)) {
      lines.add(JSON.readTree(line));
    }
    List<JsonNode> inputs = PAIRS.lines().filter(l -> !l.isBlank()).map(ScoreCommandTest::parse).toList();
    assertEquals(inputs.size(), lines.size(), "one output line per pair");
    for (int i = 0; i < inputs.size(); i++) {
      JsonNode in = inputs.get(i);
      JsonNode o = lines.get(i);
      for (String field : List.of("prompt", "chosen", "rejected", "group")) {
        assertEquals(in.get(field), o.get(field), "line " + i + " " + field);
      }
      int[] prompt = tokenizer.encodePrompt(in.get("prompt").asText());
      double chosen = libtorchLogProb(model, prompt, response(tokenizer, in.get("chosen").asText(), eos));
      double rejected = libtorchLogProb(model, prompt, response(tokenizer, in.get("rejected").asText(), eos));
      Close.assertClose("line " + i + " logps", new double[] {o.get("chosen_logp").asDouble(),
          o.get("rejected_logp").asDouble()}, new double[] {chosen, rejected}, 1e-4, 1e-5);
    }
  }

  private static int[] response(TextTokenizer tokenizer, String text, boolean eos) {
    int[] ids = tokenizer.encodeResponse(text);
    if (!eos) {
      return ids;
    }
    int[] out = java.util.Arrays.copyOf(ids, ids.length + 1);
    out[ids.length] = tokenizer.eosId().orElseThrow();
    return out;
  }

  private static double libtorchLogProb(TransformerLm model, int[] prompt, int[] response) {
    long[] ids = new long[prompt.length + response.length];
    for (int i = 0; i < prompt.length; i++) {
      ids[i] = prompt[i];
    }
    for (int i = 0; i < response.length; i++) {
      ids[prompt.length + i] = response[i];
    }
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      Tensor logp = model.forward(HostTensors.longs(ids, 1, ids.length)).to(ScalarType.Double).log_softmax(-1);
      double[] values = HostTensors.toDoubles(logp);
      int vocab = (int) logp.size(2);
      double sum = 0;
      for (int t = prompt.length; t < ids.length; t++) {
        sum += values[(t - 1) * vocab + (int) ids[t]];
      }
      return sum;
    }
  }

  private static JsonNode parse(String line) {
    try {
      return JSON.readTree(line);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
