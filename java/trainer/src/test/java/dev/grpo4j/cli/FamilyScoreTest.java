package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.grpo4j.model.FamilyGoldens;
import dev.grpo4j.testing.Close;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code grpo4j score} on the tiny random checkpoint of every model family, three pairs of several lengths in one
 * padded batch, through the fused head (the default) and the whole logits: the log-probs transformers 5.17 gives
 * each row alone (make_family_goldens.py), within 2e-3.
 */
class FamilyScoreTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path tmp;

  static Stream<String> families() throws Exception {
    return FamilyGoldens.families();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("families")
  void scoresAreTransformersLogProbs(String family) throws Exception {
    Path dir = FamilyGoldens.folder().resolve(family);
    JsonNode want = JSON.readTree(dir.resolve("goldens.json").toFile()).get("pair_logps");
    for (String fused : List.of("auto", "off")) {
      Path out = tmp.resolve(family + "-" + fused + ".jsonl");
      CliRun run = CliRun.of("score", "--model", dir.toString(), "--data", dir.resolve("pairs.jsonl").toString(),
          "--out", out.toString(), "--batch-size", "3", "--fused-head", fused, "--threads", "1", "--no-progress");
      assertEquals(0, run.exitCode(), run.err());
      List<String> lines = Files.readAllLines(out);
      assertEquals(want.size(), lines.size());
      double[] got = new double[2 * lines.size()];
      double[] expected = new double[got.length];
      for (int i = 0; i < lines.size(); i++) {
        JsonNode line = parse(lines.get(i));
        got[2 * i] = line.get("chosen_logp").asDouble();
        got[2 * i + 1] = line.get("rejected_logp").asDouble();
        expected[2 * i] = want.get(i).get(0).asDouble();
        expected[2 * i + 1] = want.get(i).get(1).asDouble();
      }
      Close.assertClose(family + " --fused-head " + fused, got, expected, 2e-3, 0);
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
