package dev.grpo4j.cli;

import static dev.grpo4j.cli.TrainFixtures.assertOneLineError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.model.TransformerLm;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code train} on conversational data: with a Hugging Face folder's own chat template, with the built-in ChatML
 * template on Parquet, and the errors and warnings a user meets on the way.
 */
class TrainConversationalTest {
  @TempDir
  Path tmp;

  private static final String[] GROUPS = {"UK", "DE"};
  private static final String[] ANSWERS = {"yes", "no"};

  /** Conversations in which each group prefers its own answer, as JSON Lines; {@code field} names the group. */
  private Path conversations(String name, int pairs, String field, long seed) throws IOException {
    Random rng = new Random(seed);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < pairs; i++) {
      int g = i % 2;
      String question = "Is tea healthy " + rng.nextInt(5) + "?";
      String group = field == null ? "" : ", \"" + field + "\": \"" + GROUPS[g] + "\"";
      lines.add("{\"prompt\": [{\"role\": \"user\", \"content\": \"" + question + "\"}], "
          + "\"chosen\": [{\"role\": \"assistant\", \"content\": \"" + ANSWERS[g] + "\"}], "
          + "\"rejected\": [{\"role\": \"assistant\", \"content\": \"" + ANSWERS[1 - g] + "\"}]" + group + "}");
    }
    return Files.write(tmp.resolve(name), lines);
  }

  @Test
  void trainsOnConversationsRenderedWithTheModelsOwnTemplate() throws IOException {
    Path model = TrainFixtures.instructModel(tmp);
    Path train = conversations("convo.jsonl", 16, "group", 1);
    Path validation = conversations("convo-validation.jsonl", 4, "group", 2);
    Path out = tmp.resolve("run");
    CliRun run = CliRun.of("train", "--no-progress", "--model", model.toString(), "--train", train.toString(),
        "--validation", validation.toString(), "--steps", "3", "--batch-size", "4", "--method", "gr-dpo",
        "--threads", "1", "--out", out.toString());
    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.err().contains("data: 16 training pairs in 2 groups"), run.err());
    assertTrue(Files.isRegularFile(out.resolve("final/model/model.safetensors")), run.err());
    assertTrue(Files.readString(out.resolve("run_config.json")).contains("\"groupField\" : \"group\""));
  }

  @Test
  void builtInModelsTakeTheChatmlTemplateAndParquetWithAnotherGroupField() throws IOException {
    Path parquet = tmp.resolve("conversational.parquet");
    try (InputStream in = getClass().getResourceAsStream("/dev/grpo4j/data/conversational.parquet")) {
      Files.copy(in, parquet);
    }
    Path out = tmp.resolve("chatml");
    CliRun run = CliRun.of("train", "--no-progress", "--model", "tiny-llama", "--train", parquet.toString(),
        "--group-field", "country", "--chat-template", "chatml", "--steps", "2", "--batch-size", "2",
        "--threads", "1", "--out", out.toString());
    assertEquals(0, run.exitCode(), run.err());
    assertTrue(run.err().contains("data: 2 training pairs in 2 groups"), run.err());

    CliRun resumed = CliRun.of("train", "--resume", "--out", out.toString(), "--no-progress", "--threads", "1");
    assertEquals(0, resumed.exitCode(), "the run folder keeps --chat-template and --group-field:\n" + resumed.err());
  }

  @Test
  void conversationsWithoutATemplateAndDataWithoutGroupsAreReported() throws IOException {
    Path train = conversations("convo.jsonl", 8, null, 3);
    assertOneLineError(CliRun.of("train", "--no-progress", "--model", "tiny-llama", "--train", train.toString(),
        "--steps", "1", "--out", tmp.resolve("none").toString()), "--chat-template chatml");

    CliRun ungrouped = CliRun.of("train", "--no-progress", "--model", "tiny-llama", "--train", train.toString(),
        "--chat-template", "chatml", "--method", "gr-dpo", "--steps", "1", "--batch-size", "2", "--threads", "1",
        "--out", tmp.resolve("one-group").toString());
    assertEquals(0, ungrouped.exitCode(), ungrouped.err());
    assertTrue(ungrouped.err().contains("warning: the training data has no \"group\" field, so all pairs are one "
        + "group and GR-DPO is plain DPO"), ungrouped.err());

    Path constant = Files.writeString(tmp.resolve("constant.jinja"), "<|assistant|>\n");
    CliRun alike = CliRun.of("train", "--no-progress", "--model", "tiny-llama", "--train", train.toString(),
        "--chat-template", constant.toString(), "--steps", "1", "--out", tmp.resolve("constant").toString());
    assertOneLineError(alike, constant + ": renders every conversation alike");
    assertFalse(alike.err().contains("encodes to no tokens"), "the template is named, not the data:\n" + alike.err());

    Path needsKwargs = Files.writeString(tmp.resolve("kwargs.jinja"), "{% if not house_style is defined %}"
        + "{{ raise_exception('pass house_style') }}{% endif %}{% for m in messages %}{{ house_style }}{{ m.content }}"
        + "{% endfor %}");
    assertOneLineError(CliRun.of("train", "--no-progress", "--model", "tiny-llama", "--train", train.toString(),
        "--chat-template", needsKwargs.toString(), "--steps", "1", "--out", tmp.resolve("no-kwargs").toString()),
        "the template refused the messages: pass house_style");
    CliRun withKwargs = CliRun.of("train", "--no-progress", "--model", "tiny-llama", "--train", train.toString(),
        "--chat-template", needsKwargs.toString(), "--chat-template-kwargs", "{\"house_style\": \"> \"}",
        "--steps", "1", "--batch-size", "2", "--threads", "1", "--out", tmp.resolve("kwargs").toString());
    assertEquals(0, withKwargs.exitCode(), withKwargs.err());
    assertOneLineError(CliRun.of("train", "--no-progress", "--model", "tiny-llama", "--train", train.toString(),
        "--chat-template", "chatml", "--chat-template-kwargs", "[1]", "--steps", "1", "--out",
        tmp.resolve("bad-kwargs").toString()), "--chat-template-kwargs [1]: must be a JSON object");

    Path template = Files.writeString(tmp.resolve("bad.jinja"), "{{ messages[0].content }}\n{% for m in messages "
        + "if m.role %}{{ m.content }}{% endfor %}");
    assertOneLineError(CliRun.of("train", "--no-progress", "--model", "tiny-llama", "--train", train.toString(),
        "--chat-template", template.toString(), "--steps", "1", "--out", tmp.resolve("bad").toString()),
        template + " line 2: a loop filter");
  }
}
