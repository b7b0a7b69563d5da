package dev.grpo4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.grpo4j.io.AtomicFiles;
import dev.grpo4j.model.TransformerLm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The base model LoRA adapters were trained on, recorded beside them as {@value #FILE}: its folder or built-in name
 * and the SHA-256 of its configuration and weights ({@link ReferenceLogProbs#modelHash}). PEFT's own
 * {@code base_model_name_or_path} is only a name; applying adapters to other weights of the same shape runs
 * without any error and gives other numbers, which the recorded hash lets a command warn about.
 *
 * @param model the base model's folder (absolute) or built-in name
 * @param weightsSha256 hash of the base's configuration and weights
 */
public record AdapterBase(String model, String weightsSha256) {
  public static final String FILE = "grpo4j_base_model.json";

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Writes the record into the adapter folder {@code adapterDir}. */
  public void write(Path adapterDir) throws IOException {
    ObjectNode json = JSON.createObjectNode();
    json.put("base_model_name_or_path", model);
    json.put("weights_sha256", weightsSha256);
    AtomicFiles.write(adapterDir.resolve(FILE), out -> out.write(JSON.writerWithDefaultPrettyPrinter()
        .writeValueAsBytes(json)));
  }

  /** The record in {@code adapterDir}; empty for adapters saved without one (by PEFT, or by older grpo4j). */
  public static Optional<AdapterBase> read(Path adapterDir) {
    Path file = adapterDir.resolve(FILE);
    if (!Files.isRegularFile(file)) {
      return Optional.empty();
    }
    try {
      JsonNode json = JSON.readTree(file.toFile());
      return Optional.of(new AdapterBase(json.path("base_model_name_or_path").asText(""),
          json.path("weights_sha256").asText("")));
    } catch (IOException e) {
      throw new IllegalArgumentException(file + " is not valid JSON: " + e.getMessage(), e);
    }
  }

  /**
   * A warning when {@code base} (adapters not counted) is not the model the adapters in {@code adapterDir} were
   * trained on; empty when it is, or when the folder records no base.
   */
  public static Optional<String> mismatch(TransformerLm base, Path adapterDir) {
    return read(adapterDir).flatMap(recorded -> {
      String actual = ReferenceLogProbs.modelHash(base);
      if (actual.equals(recorded.weightsSha256())) {
        return Optional.empty();
      }
      return Optional.of("the adapters in " + adapterDir + " were trained on " + recorded.model() + " (weights "
          + recorded.weightsSha256().substring(0, Math.min(12, recorded.weightsSha256().length())) + "...), but the "
          + "given model's configuration or weights differ (" + actual.substring(0, 12) + "...): the numbers will "
          + "not be those of the run that trained them; pass --model " + recorded.model());
    });
  }
}
