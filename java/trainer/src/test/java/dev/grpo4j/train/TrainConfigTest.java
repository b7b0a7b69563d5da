package dev.grpo4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.GroupNormalization;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
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
    return new TrainConfig("tiny-llama", null, "bytes", "float32", "cpu", null,
        "data/train.jsonl", "data/validation.jsonl", "data/test.jsonl", false,
        new TrainConfig.PairReading("jsonl", "country", "chat.jinja", "{\"enable_thinking\": false}"),
        64, 128, true,
        Method.GR_DPO, 0.1, 0.01, 0.2, 0.5, GroupNormalization.BATCH_MEAN,
        0.0, false, GroupUpdate.PER_STEP,
        0, 1e-4,
        4, 2, 5e-5, 0.01, 10,
        LearningRateSchedule.Decay.COSINE, 3, 0.5, 1e-6,
        1.0, 200, 20, 16, 50, 2,
        42L, 1);
  }

  /** {@code base} with one component replaced, through the canonical constructor (so its checks run). */
  static TrainConfig with(TrainConfig base, String component, Object value) {
    RecordComponent[] components = TrainConfig.class.getRecordComponents();
    Object[] args = new Object[components.length];
    boolean found = false;
    try {
      for (int i = 0; i < components.length; i++) {
        boolean match = components[i].getName().equals(component);
        found |= match;
        args[i] = match ? value : components[i].getAccessor().invoke(base);
      }
      if (!found) {
        throw new AssertionError("TrainConfig has no component " + component);
      }
      Constructor<TrainConfig> canonical = TrainConfig.class.getDeclaredConstructor(
          Arrays.stream(components).map(RecordComponent::getType).toArray(Class<?>[]::new));
      return canonical.newInstance(args);
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
    TrainConfig config = with(with(with(valid(), "lora",
        new TrainConfig.LoraSettings(8, 16.0, 0.05, List.of("q_proj", "v_proj"))), "beta", 0.1 + 0.2),
        "seed", -8_765_432_109_876L);
    config = with(with(with(config, "method", Method.IS_IPO), "groupNormalization",
        GroupNormalization.DATASET_FREQUENCY), "decay", LearningRateSchedule.Decay.LINEAR);
    config.write(dir);
    assertTrue(Files.isRegularFile(dir.resolve(TrainConfig.FILE)));
    assertEquals(config, TrainConfig.read(dir));
  }

  @Test
  void nullOptionalSettingsRoundTrip(@TempDir Path dir) throws IOException {
    TrainConfig config = new TrainConfig("tiny-qwen2", "runs/a/adapter", null, null, "cuda", null,
        "train.jsonl", null, null, true,
        null, 8, 9, false,
        Method.DPO, 1.0, 0, 0, 0, GroupNormalization.BATCH_MEAN,
        0.1, false, null,
        5, 1e-3,
        1, 1, 1e-3, 0, 1,
        LearningRateSchedule.Decay.CONSTANT, -1, 0.5, 0,
        0, 1, 0, 1, 0, 1,
        0L, 0);
    config.write(dir);
    TrainConfig read = TrainConfig.read(dir);
    assertEquals(config, read);
    assertNull(read.validationData());
    assertNull(read.plateau(), "negative patience switches the plateau off");
    assertEquals(GroupUpdate.PER_MICRO_BATCH, read.groupUpdate(), "run folders without the option");
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
    assertEquals(8, config.pairsPerStep());
    assertEquals(new LearningRateSchedule(5e-5, 10, 200, LearningRateSchedule.Decay.COSINE), config.schedule());
    assertNotNull(config.plateau());
    assertFalse(config.usesAdapters());
    assertTrue(with(config, "adapter", "some/adapter").usesAdapters());
    assertTrue(with(config, "lora", new TrainConfig.LoraSettings(4, 8, 0, List.of("q_proj"))).usesAdapters());
  }

  static Stream<Arguments> invalid() {
    return Stream.of(
        Arguments.of("batchSize", 0, "--batch-size"),
        Arguments.of("maxLength", 64, "--max-length"),
        Arguments.of("maxLength", 10, "--max-length"),
        Arguments.of("chi", 1.5, "--chi"),
        Arguments.of("warmupSteps", 201, "--warmup-steps"),
        Arguments.of("warmupSteps", -1, "--warmup-steps"),
        Arguments.of("validationData", null, "--plateau-patience"),
        Arguments.of("adapter", "runs/a/adapter", "--adapter"),
        Arguments.of("model", " ", "--model"),
        Arguments.of("trainData", null, "--train"),
        Arguments.of("maxPromptTokens", 0, "--max-prompt-tokens"),
        Arguments.of("beta", 0.0, "--beta"),
        Arguments.of("eta", Double.NaN, "--eta"),
        Arguments.of("labelSmoothing", 0.5, "--label-smoothing"),
        Arguments.of("gradientAccumulation", 0, "--grad-accumulation"),
        Arguments.of("learningRate", Double.POSITIVE_INFINITY, "--lr"),
        Arguments.of("minLearningRate", 1e-3, "--min-lr"),
        Arguments.of("maxGradNorm", -1.0, "--max-grad-norm"),
        Arguments.of("steps", 0, "--steps"),
        Arguments.of("evalBatchSize", 0, "--eval-batch-size"),
        Arguments.of("keepCheckpoints", 0, "--keep-checkpoints"),
        Arguments.of("worldSize", 3, "--batch-size"));
  }

  @ParameterizedTest(name = "{0} = {1}")
  @MethodSource("invalid")
  void invalidSettingNamesTheOption(String component, Object value, String option) {
    // Every invalid setting is tried on a config that is otherwise valid, adapters included where the setting
    // conflicts with them.
    TrainConfig base = component.equals("adapter")
        ? with(valid(), "lora", new TrainConfig.LoraSettings(8, 16, 0, List.of("q_proj")))
        : valid();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> with(base, component, value));
    assertTrue(e.getMessage().contains(option), "message \"" + e.getMessage() + "\" lacks " + option);
  }

  @Test
  void loraTogetherWithAdapterNamesBothOptions() {
    TrainConfig adapter = with(valid(), "adapter", "runs/a/adapter");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> with(adapter, "lora", new TrainConfig.LoraSettings(8, 16, 0, List.of("q_proj"))));
    assertTrue(e.getMessage().contains("--adapter") && e.getMessage().contains("--lora-rank"), e.getMessage());
  }

  @Test
  void invalidLoraSettingsAreRejected() {
    assertThrows(IllegalArgumentException.class,
        () -> with(valid(), "lora", new TrainConfig.LoraSettings(0, 16, 0, List.of("q_proj"))));
    assertThrows(IllegalArgumentException.class,
        () -> with(valid(), "lora", new TrainConfig.LoraSettings(8, 16, 0, List.of("attention"))));
  }

  @Test
  void plateauWithoutValidationIsFineWhenOff() {
    TrainConfig off = with(with(valid(), "plateauPatience", -1), "validationData", null);
    assertNull(off.plateau());
  }
}
