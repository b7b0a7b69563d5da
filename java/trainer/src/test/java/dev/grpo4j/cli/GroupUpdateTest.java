package dev.grpo4j.cli;

import static dev.grpo4j.cli.TrainFixtures.train;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --group-update}: per micro-batch the weights move once per micro-batch (twice per step with
 * {@code --grad-accumulation 2}), per step once per optimiser step; both resume bit for bit.
 */
class GroupUpdateTest {
  @TempDir
  Path tmp;

  private static JsonNode state(Path run) throws IOException {
    return new ObjectMapper().readTree(run.resolve("checkpoints/step-00000004/trainer_state.json").toFile());
  }

  @Test
  void perStepMovesTheWeightsOncePerOptimiserStepAndResumes() throws IOException {
    TrainFixtures.Data data = TrainFixtures.Data.write(tmp, 3);
    String[] options = {"--steps", "4", "--grad-accumulation", "2", "--checkpoint-every", "2", "--eval-every", "2",
        "--eta", "2", "--method", "gr-dpo"};
    Path perMicro = tmp.resolve("per-micro-batch");
    assertEquals(0, train(data, perMicro, options).exitCode());
    Path perStep = tmp.resolve("per-step");
    String[] perStepOptions = Arrays.copyOf(options, options.length + 2);
    perStepOptions[options.length] = "--group-update";
    perStepOptions[options.length + 1] = "per-step";
    CliRun run = train(data, perStep, perStepOptions);
    assertEquals(0, run.exitCode(), run.err());

    assertEquals(8, state(perMicro).get("groupWeightSteps").asLong(), "2 micro-batches x 4 steps");
    assertEquals(4, state(perStep).get("groupWeightSteps").asLong(), "one update per step");
    assertFalse(Arrays.equals(alpha(perMicro), alpha(perStep)), "the two schedules end at different weights");

    Path resumed = tmp.resolve("per-step-resumed");
    TrainCommandTest.interruptAfterFirstCheckpoint(perStep, resumed, 4);
    CliRun again = CliRun.of("train", "--resume", "--out", resumed.toString(), "--threads", "1", "--no-progress");
    assertEquals(0, again.exitCode(), again.err());
    TrainCommandTest.assertSameRun(perStep, resumed);
    assertArrayEquals(alpha(perStep), alpha(resumed), 0.0);
    assertArrayEquals(Files.readAllBytes(perStep.resolve("final/model/model.safetensors")),
        Files.readAllBytes(resumed.resolve("final/model/model.safetensors")));
  }

  private static double[] alpha(Path run) throws IOException {
    JsonNode logAlpha = state(run).get("groupLogAlpha");
    double[] out = new double[logAlpha.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = logAlpha.get(i).asDouble();
    }
    return out;
  }
}
