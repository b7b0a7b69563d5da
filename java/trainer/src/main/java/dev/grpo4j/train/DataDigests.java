package dev.grpo4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.grpo4j.io.AtomicFiles;
import dev.grpo4j.io.RunFolder;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The SHA-256 of each data file a run trains and evaluates on, recorded in the run folder when the run starts and
 * checked by {@code --resume}: a checkpoint's batch order, group sizes and cached reference log-probs belong to the
 * data as it was, so a run continued on edited files would mix two data sets without a word.
 */
final class DataDigests {
  private static final ObjectMapper JSON = new ObjectMapper();

  private DataDigests() {}

  /** Records the digests of the run's data files ({@code --train}, {@code --validation}, {@code --test}). */
  static void write(Path runDir, TrainConfig config) throws IOException {
    ObjectNode root = JSON.createObjectNode();
    for (Map.Entry<String, Path> e : files(config).entrySet()) {
      root.putObject(e.getKey()).put("file", e.getValue().toString()).put("sha256", sha256(e.getValue()));
    }
    AtomicFiles.write(new RunFolder(runDir).dataDigests(),
        out -> JSON.writerWithDefaultPrettyPrinter().writeValue(out, root));
  }

  /**
   * Refuses to continue a run whose data files changed since it started, naming the file. A run folder of an older
   * grpo4j records no digests and is not checked.
   */
  static void check(Path runDir, TrainConfig config) throws IOException {
    Path recorded = new RunFolder(runDir).dataDigests();
    if (!Files.isRegularFile(recorded)) {
      return;
    }
    JsonNode root = JSON.readTree(recorded.toFile());
    for (Map.Entry<String, Path> e : files(config).entrySet()) {
      String then = root.path(e.getKey()).path("sha256").asText(null);
      String now = then == null ? null : sha256(e.getValue());
      if (then != null && !then.equals(now)) {
        throw new IllegalArgumentException("--resume: " + e.getKey() + " " + e.getValue() + " changed since the run "
            + "started (SHA-256 " + then.substring(0, 12) + "... then, " + now.substring(0, 12) + "... now): its "
            + "checkpoint's batches and reference log-probs belong to the old content; restore the file, or train on "
            + "the new data in a new run");
      }
    }
  }

  private static Map<String, Path> files(TrainConfig config) {
    Map<String, Path> files = new LinkedHashMap<>();
    files.put("--train", Path.of(config.data().train()));
    if (config.data().validation() != null) {
      files.put("--validation", Path.of(config.data().validation()));
    }
    if (config.data().test() != null) {
      files.put("--test", Path.of(config.data().test()));
    }
    return files;
  }

  private static String sha256(Path file) throws IOException {
    MessageDigest digest = ReferenceLogProbs.sha256();
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buffer = new byte[1 << 16];
      for (int n = in.read(buffer); n > 0; n = in.read(buffer)) {
        digest.update(buffer, 0, n);
      }
    }
    return HexFormat.of().formatHex(digest.digest());
  }
}
