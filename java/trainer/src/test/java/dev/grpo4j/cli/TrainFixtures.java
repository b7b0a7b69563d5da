package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.model.Checkpoints;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Models;
import dev.grpo4j.text.HuggingFaceTextTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Data files and command helpers shared by the {@code grpo4j train} tests. */
final class TrainFixtures {
  static final String[] GROUPS = {"north", "south", "east"};
  /** Training pairs per group: uneven, so that dataset-frequency and importance weights differ from uniform. */
  static final int[] TRAIN_SIZES = {24, 12, 6};

  private TrainFixtures() {}

  /** A train command on {@code data} with small defaults; an option in {@code extra} replaces its default. */
  static CliRun train(Data data, Path out, String... extra) {
    Map<String, String> defaults = new LinkedHashMap<>();
    defaults.put("--model", "tiny-llama");
    defaults.put("--train", data.train().toString());
    defaults.put("--validation", data.validation().toString());
    defaults.put("--test", data.test().toString());
    defaults.put("--batch-size", "4");
    defaults.put("--lr", "1e-3");
    defaults.put("--seed", "5");
    defaults.put("--threads", "1");
    defaults.put("--out", out.toString());
    List<String> args = new ArrayList<>(List.of("train", "--no-progress"));
    defaults.forEach((option, value) -> {
      if (!Arrays.asList(extra).contains(option)) {
        args.add(option);
        args.add(value);
      }
    });
    args.addAll(List.of(extra));
    return CliRun.of(args.toArray(new String[0]));
  }

  static void assertOneLineError(CliRun run, String expected) {
    assertEquals(1, run.exitCode(), run.err());
    assertTrue(run.err().contains(expected), "expected \"" + expected + "\" in:\n" + run.err());
    assertFalse(run.err().contains("\tat "), "no stack trace:\n" + run.err());
  }

  /** A random tiny Qwen2 saved with the test tokenizer and its Qwen2.5 template: a small instruct model folder. */
  static Path instructModel(Path tmp) throws IOException {
    Path tokenizerFiles = tmp.resolve("tokenizer");
    Files.createDirectories(tokenizerFiles);
    List<String> files = List.of("tokenizer.json", "tokenizer_config.json", "chat_template.jinja");
    for (String file : files) {
      try (InputStream in = TrainFixtures.class.getResourceAsStream("/dev/grpo4j/chat/tokenizer/" + file)) {
        Files.copy(in, tokenizerFiles.resolve(file));
      }
    }
    int vocab;
    try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.fromFolder(tokenizerFiles)) {
      vocab = tokenizer.vocabSize();
    }
    Path folder = tmp.resolve("instruct");
    Checkpoints.save(Models.random(ModelConfig.tiny("tiny-qwen2", vocab), 3), folder, ScalarType.Float,
        Checkpoints.DEFAULT_MAX_SHARD_BYTES);
    for (String file : files) {
      Files.copy(tokenizerFiles.resolve(file), folder.resolve(file));
    }
    return folder;
  }

  /** Train, validation and test files of a small three-group preference data set. */
  record Data(Path train, Path validation, Path test) {
    private static final String[] ANSWERS = {"yes", "no", "maybe"};

    /** Byte-level texts: each group prefers its own answer to a question (the tiny models' byte tokenizer). */
    static Data write(Path dir, long seed) throws IOException {
      Random rng = new Random(seed);
      return new Data(split(dir, "train.jsonl", TRAIN_SIZES, rng, Data::bytePair),
          split(dir, "validation.jsonl", new int[] {3, 3, 3}, rng, Data::bytePair),
          split(dir, "test.jsonl", new int[] {3, 3, 3}, rng, Data::bytePair));
    }

    /** Texts in the words of {@link ScoreCommandTest#TOKENIZER}, for the Hugging Face folder. */
    static Data writeWords(Path dir) throws IOException {
      Random rng = new Random(7);
      return new Data(split(dir, "train-words.jsonl", TRAIN_SIZES, rng, Data::wordPair),
          split(dir, "validation-words.jsonl", new int[] {3, 3, 3}, rng, Data::wordPair),
          split(dir, "test-words.jsonl", new int[] {3, 3, 3}, rng, Data::wordPair));
    }

    private interface PairMaker {
      String line(int group, Random rng);
    }

    private static Path split(Path dir, String name, int[] sizes, Random rng, PairMaker maker) throws IOException {
      List<String> lines = new ArrayList<>();
      for (int g = 0; g < sizes.length; g++) {
        for (int i = 0; i < sizes[g]; i++) {
          lines.add(maker.line(g, rng));
        }
      }
      java.util.Collections.shuffle(lines, rng);
      return Files.write(dir.resolve(name), lines);
    }

    private static String bytePair(int group, Random rng) {
      String question = "q" + rng.nextInt(5) + "?".repeat(1 + rng.nextInt(3));
      int chosen = (group + question.length()) % ANSWERS.length;
      int rejected = (chosen + 1 + rng.nextInt(2)) % ANSWERS.length;
      return line(GROUPS[group] + ": " + question, " " + ANSWERS[chosen], " " + ANSWERS[rejected], GROUPS[group]);
    }

    private static String wordPair(int group, Random rng) {
      String[] subjects = {"the sky", "the grass", "it"};
      String[] answers = {"blue", "green", "very blue", "it is green"};
      int chosen = (group + rng.nextInt(2)) % answers.length;
      return line("what colour is " + subjects[rng.nextInt(subjects.length)] + " ?", answers[chosen],
          answers[(chosen + 1 + rng.nextInt(3)) % answers.length], GROUPS[group]);
    }

    private static String line(String prompt, String chosen, String rejected, String group) {
      return "{\"prompt\": \"" + prompt + "\", \"chosen\": \"" + chosen + "\", \"rejected\": \"" + rejected
          + "\", \"group\": \"" + group + "\"}";
    }
  }
}
