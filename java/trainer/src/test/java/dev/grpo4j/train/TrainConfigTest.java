package dev.grpo4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.grpo4j.GroupNormalization;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link TrainConfig}: the run file round-trips to an equal record, and each invalid setting is rejected with a
 * message that names the command-line option to fix.
 */
class TrainConfigTest {
  static TrainConfig valid() {
    return new TrainConfig(
        new ModelSpec("tiny-llama", null, "bytes", "float32", "cpu", null),
        new DataSpec("data/train.jsonl", "data/validation.jsonl", "data/test.jsonl", false,
            new DataSpec.PairReading("jsonl", "country", "chat.jinja", "{\"enable_thinking\": false}"), 64, 128, true),
        new LossSpec(Method.GR_DPO, 0.1, 0.01, 0.2, 0.5, GroupNormalization.BATCH_MEAN, 0.0, false,
            GroupUpdate.PER_STEP),
        new SftSpec(0, 1e-4),
        new OptimizerSpec(5e-5, 0.01, 10, LearningRateSchedule.Decay.COSINE, 3, 0.5, 1e-6, 1.0, true),
        new LoopSpec(200, 4, 2, 20, 16, 50, 2, 42L, 1));
  }

  /**
   * {@code base} with one setting replaced, named {@code spec.component} (e.g. {@code loss.beta}), through the
   * canonical constructors (so that their checks run).
   */
  static TrainConfig with(TrainConfig base, String setting, Object value) {
    String[] path = setting.split("\\.");
    Record spec = (Record) component(base, path[0]);
    return (TrainConfig) replaced(base, path[0], replaced(spec, path[1], value));
  }

  private static Object component(Record record, String name) {
    for (RecordComponent component : record.getClass().getRecordComponents()) {
      if (component.getName().equals(name)) {
        try {
          return component.getAccessor().invoke(record);
        } catch (ReflectiveOperationException e) {
          throw new AssertionError(e);
        }
      }
    }
    throw new AssertionError(record.getClass().getSimpleName() + " has no component " + name);
  }

  private static Record replaced(Record record, String name, Object value) {
    RecordComponent[] components = record.getClass().getRecordComponents();
    Object[] args = new Object[components.length];
    for (int i = 0; i < components.length; i++) {
      args[i] = components[i].getName().equals(name) ? value : component(record, components[i].getName());
    }
    component(record, name); // fails naming the record when it has no such component
    try {
      return (Record) record.getClass().getDeclaredConstructor(
          Arrays.stream(components).map(RecordComponent::getType).toArray(Class<?>[]::new)).newInstance(args);
    } catch (InvocationTargetException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new AssertionError(e.getCause());
    } catch (ReflectiveOperationException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void writeThenReadGivesAnEqualConfig(@TempDir Path dir) throws IOException {
    TrainConfig config = with(with(with(valid(), "model.lora",
        new ModelSpec.LoraSettings(8, 16.0, 0.05, List.of("q_proj", "v_proj"))), "loss.beta", 0.1 + 0.2),
        "loop.seed", -8_765_432_109_876L);
    config = with(with(with(config, "loss.method", Method.IS_IPO), "loss.groupNormalization",
        GroupNormalization.DATASET_FREQUENCY), "optimizer.decay", LearningRateSchedule.Decay.LINEAR);
    config.write(dir);
    assertTrue(Files.isRegularFile(dir.resolve(TrainConfig.FILE)));
    assertEquals(config, TrainConfig.read(dir));
  }

  @Test
  void nullOptionalSettingsRoundTrip(@TempDir Path dir) throws IOException {
    TrainConfig config = new TrainConfig(
        new ModelSpec("tiny-qwen2", "runs/a/adapter", null, null, "cuda", null),
        new DataSpec("train.jsonl", null, null, true, null, 8, 9, false),
        new LossSpec(Method.DPO, 1.0, 0, 0, 0, GroupNormalization.BATCH_MEAN, 0.1, false, null),
        new SftSpec(5, 1e-3),
        new OptimizerSpec(1e-3, 0, 1, LearningRateSchedule.Decay.CONSTANT, -1, 0.5, 0, 0, false),
        new LoopSpec(1, 1, 1, 0, 1, 0, 1, 0L, 0));
    config.write(dir);
    TrainConfig read = TrainConfig.read(dir);
    assertEquals(config, read);
    assertNull(read.data().validation());
    assertNull(read.optimizer().plateau(), "negative patience switches the plateau off");
    assertEquals(GroupUpdate.PER_MICRO_BATCH, read.loss().groupUpdate(), "run folders without the option");
    assertEquals(DataSpec.PairReading.defaults(), read.data().reading(), "run folders without the options");
    assertEquals(1, read.loop().worldSize(), "run folders without the option");
  }

  @Test
  void unknownFieldsAreIgnored(@TempDir Path dir) throws IOException {
    TrainConfig config = valid();
    config.write(dir);
    Path file = dir.resolve(TrainConfig.FILE);
    String json = Files.readString(file);
    Files.writeString(file, json.replaceFirst("\\{", "{\"added_in_a_later_version\": 1,"));
    assertEquals(config, TrainConfig.read(dir));
  }

  @Test
  void unreadableFileNamesTheFile(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve(TrainConfig.FILE), "{ not json");
    IOException e = assertThrows(IOException.class, () -> TrainConfig.read(dir));
    assertTrue(e.getMessage().contains(TrainConfig.FILE), e.getMessage());
  }

  @Test
  void derivedSettings() {
    TrainConfig config = valid();
    assertEquals(8, config.loop().pairsPerStep());
    assertEquals(new LearningRateSchedule(5e-5, 10, 200, LearningRateSchedule.Decay.COSINE), config.schedule());
    assertNotNull(config.optimizer().plateau());
    assertFalse(config.model().usesAdapters());
    assertTrue(with(config, "model.adapter", "some/adapter").model().usesAdapters());
    assertTrue(with(config, "model.lora", new ModelSpec.LoraSettings(4, 8, 0, List.of("q_proj"))).model()
        .usesAdapters());
  }

  static Stream<Arguments> invalid() {
    return Stream.of(
        Arguments.of("loop.batchSize", 0, "--batch-size"),
        Arguments.of("data.maxLength", 64, "--max-length"),
        Arguments.of("data.maxLength", 10, "--max-length"),
        Arguments.of("loss.chi", 1.5, "--chi"),
        Arguments.of("optimizer.warmupSteps", 201, "--warmup-steps"),
        Arguments.of("optimizer.warmupSteps", -1, "--warmup-steps"),
        Arguments.of("data.validation", null, "--plateau-patience"),
        Arguments.of("model.adapter", "runs/a/adapter", "--adapter"),
        Arguments.of("model.name", " ", "--model"),
        Arguments.of("model.dtype", "float16", "--dtype"),
        Arguments.of("data.train", null, "--train"),
        Arguments.of("data.maxPromptTokens", 0, "--max-prompt-tokens"),
        Arguments.of("loss.method", null, "--method"),
        Arguments.of("loss.beta", 0.0, "--beta"),
        Arguments.of("loss.eta", Double.NaN, "--eta"),
        Arguments.of("loss.adjustment", -1.0, "--adjustment"),
        Arguments.of("loss.labelSmoothing", 0.5, "--label-smoothing"),
        Arguments.of("loss.groupNormalization", null, "--group-normalization"),
        Arguments.of("sft.steps", -1, "--sft-steps"),
        Arguments.of("sft.learningRate", 0.0, "--sft-lr"),
        Arguments.of("loop.gradientAccumulation", 0, "--grad-accumulation"),
        Arguments.of("optimizer.learningRate", Double.POSITIVE_INFINITY, "--lr"),
        Arguments.of("optimizer.weightDecay", -0.1, "--weight-decay"),
        Arguments.of("optimizer.minLearningRate", 1e-3, "--min-lr"),
        Arguments.of("optimizer.maxGradNorm", -1.0, "--max-grad-norm"),
        Arguments.of("optimizer.plateauFactor", 1.0, "--plateau-factor"),
        Arguments.of("optimizer.decay", null, "--schedule"),
        Arguments.of("loop.steps", 0, "--steps"),
        Arguments.of("loop.evalInterval", -1, "--eval-every"),
        Arguments.of("loop.evalBatchSize", 0, "--eval-batch-size"),
        Arguments.of("loop.checkpointInterval", -1, "--checkpoint-every"),
        Arguments.of("loop.keepCheckpoints", 0, "--keep-checkpoints"),
        Arguments.of("loop.worldSize", 3, "--batch-size"));
  }

  @ParameterizedTest(name = "{0} = {1}")
  @MethodSource("invalid")
  void invalidSettingNamesTheOption(String component, Object value, String option) {
    // Every invalid setting is tried on a config that is otherwise valid, adapters included where the setting
    // conflicts with them.
    TrainConfig base = component.equals("model.adapter")
        ? with(valid(), "model.lora", new ModelSpec.LoraSettings(8, 16, 0, List.of("q_proj")))
        : valid();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> with(base, component, value));
    assertTrue(e.getMessage().contains(option), "message \"" + e.getMessage() + "\" lacks " + option);
  }

  @Test
  void loraTogetherWithAdapterNamesBothOptions() {
    TrainConfig adapter = with(valid(), "model.adapter", "runs/a/adapter");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> with(adapter, "model.lora", new ModelSpec.LoraSettings(8, 16, 0, List.of("q_proj"))));
    assertTrue(e.getMessage().contains("--adapter") && e.getMessage().contains("--lora-rank"), e.getMessage());
  }

  @Test
  void invalidLoraSettingsAreRejected() {
    assertThrows(IllegalArgumentException.class,
        () -> with(valid(), "model.lora", new ModelSpec.LoraSettings(0, 16, 0, List.of("q_proj"))));
    assertThrows(IllegalArgumentException.class,
        () -> with(valid(), "model.lora", new ModelSpec.LoraSettings(8, 16, 0, List.of("attention"))));
  }

  @Test
  void plateauWithoutValidationIsFineWhenOff() {
    TrainConfig off = with(with(valid(), "optimizer.plateauPatience", -1), "data.validation", null);
    assertNull(off.optimizer().plateau());
  }

  /**
   * A run folder written before the specs (one flat object of 42 settings) reads as it was written, a later option
   * at the value that keeps its behaviour (weight decay on every parameter).
   */
  @Test
  void flatFileOfTheFirstVersionReadsAndIsWrittenWithTheSameKeysAndValues(@TempDir Path dir) throws IOException {
    String firstVersion;
    try (var in = TrainConfigTest.class.getResourceAsStream("run_config-flat-v1.json")) {
      firstVersion = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    Files.writeString(dir.resolve(TrainConfig.FILE), firstVersion);
    TrainConfig read = TrainConfig.read(dir);
    TrainConfig expected = new TrainConfig(
        new ModelSpec("tiny-llama", null, null, null, "cpu",
            new ModelSpec.LoraSettings(4, 8, 0.1, List.of("q_proj", "k_proj", "v_proj", "o_proj"))),
        new DataSpec("/data/demo/train.jsonl", "/data/demo/validation.jsonl", null, false,
            DataSpec.PairReading.defaults(), 256, 512, false),
        LossSpec.of(Method.GR_DPO),
        new SftSpec(3, 1e-5),
        new OptimizerSpec(5e-6, 0, 0, LearningRateSchedule.Decay.CONSTANT, -1, 0.5, 0, 1.0, false),
        new LoopSpec(6, 8, 1, 0, 16, 3, 3, 5, 1));
    assertEquals(expected, read);
    read.write(dir);
    ObjectMapper json = new ObjectMapper();
    ObjectNode expectedFile = (ObjectNode) json.readTree(firstVersion);
    expectedFile.put("exemptNormsAndBiases", false);
    assertEquals(expectedFile, json.readTree(dir.resolve(TrainConfig.FILE).toFile()),
        "the file keeps its first version's keys and values, and adds the later options'");
  }

  @Test
  void emptyOrNonObjectFileNamesTheFile(@TempDir Path dir) throws IOException {
    for (String text : new String[] {"", "[1, 2]", "{\"model\": \"tiny-llama\"}"}) {
      Files.writeString(dir.resolve(TrainConfig.FILE), text);
      IOException e = assertThrows(IOException.class, () -> TrainConfig.read(dir), text);
      assertTrue(e.getMessage().contains(TrainConfig.FILE), e.getMessage());
    }
  }
}
