package dev.grpo4j.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.grpo4j.platform.HostTensors;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;

/**
 * One family's goldens (families/&lt;model_type&gt;/goldens.json, written by make_family_goldens.py): the token rows,
 * the logits transformers 5.17 computes on them in float64 and in bfloat16, and the rows' completion log-probs.
 */
public record FamilyGoldens(long[] ids, int rows, int tokens, int prompt, double[] logits, double[] logitsBf16,
                            double[] sequenceLogps) {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The families with a folder of goldens, sorted. */
  public static Stream<String> families() throws IOException, URISyntaxException {
    try (Stream<Path> folders = Files.list(folder())) {
      return folders.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList().stream();
    }
  }

  /** The folder that holds a checkpoint folder per family. */
  public static Path folder() throws URISyntaxException {
    return Path.of(FamilyGoldens.class.getResource("families").toURI());
  }

  public static FamilyGoldens read(Path dir) throws IOException {
    JsonNode g = json(dir);
    String folder = dir.getFileName().toString();
    String modelType = g.get("model_type").asText();
    assertTrue(folder.equals(modelType) || folder.startsWith(modelType + "_"), folder + " holds " + modelType);
    JsonNode rows = g.get("input_ids");
    int n = rows.size();
    int t = rows.get(0).size();
    long[] ids = new long[n * t];
    for (int r = 0; r < n; r++) {
      for (int i = 0; i < t; i++) {
        ids[r * t + i] = rows.get(r).get(i).asLong();
      }
    }
    return new FamilyGoldens(ids, n, t, g.get("prompt_tokens").asInt(), doubles(g.get("logits")),
        doubles(g.get("logits_bf16")), doubles(g.get("sequence_logps")));
  }

  /** The folder's goldens.json as it is. */
  public static JsonNode json(Path dir) throws IOException {
    return JSON.readTree(dir.resolve("goldens.json").toFile());
  }

  public int vocab() {
    return logits.length / (rows * tokens);
  }

  /** The token rows {@code [N, T]} (int64). */
  public Tensor inputIds() {
    return HostTensors.longs(ids, rows, tokens);
  }

  /** Labels {@code [N, T]}: position t predicts token t+1 from the prompt's last token on, -100 elsewhere. */
  public Tensor labels() {
    long[] labels = new long[ids.length];
    for (int r = 0; r < rows; r++) {
      for (int i = 0; i < tokens; i++) {
        labels[r * tokens + i] = i + 1 >= prompt && i + 1 < tokens ? ids[r * tokens + i + 1] : -100;
      }
    }
    return HostTensors.longs(labels, rows, tokens);
  }

  /** The completion log-probs of every row from logits {@code [N, T, V]}. */
  public double[] sequenceLogps(double[] fromLogits) {
    int v = vocab();
    double[] out = new double[rows];
    for (int r = 0; r < rows; r++) {
      for (int i = prompt; i < tokens; i++) {
        out[r] += logProb(fromLogits, (r * tokens + i - 1) * v, v, (int) ids[r * tokens + i]);
      }
    }
    return out;
  }

  private static double logProb(double[] logits, int offset, int vocab, int label) {
    double max = Double.NEGATIVE_INFINITY;
    for (int v = 0; v < vocab; v++) {
      max = Math.max(max, logits[offset + v]);
    }
    double sum = 0;
    for (int v = 0; v < vocab; v++) {
      sum += Math.exp(logits[offset + v] - max);
    }
    return logits[offset + label] - max - Math.log(sum);
  }

  /** The numbers of a JSON array. */
  public static double[] doubles(JsonNode array) {
    double[] out = new double[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).asDouble();
    }
    return out;
  }
}
