package dev.grpo4j.cli;

import dev.grpo4j.train.ReferenceLogProbs;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --reference-cache}: where reference log-probs are cached across runs. */
final class ReferenceCacheOption {
  static final String NONE = "none";

  @Option(names = "--reference-cache", paramLabel = "DIR|none",
      description = "Folder that caches reference log-probs across runs, keyed by the SHA-256 of the reference "
          + "model and of the encoded data; none computes them every time (default: "
          + "$XDG_CACHE_HOME/grpo4j/reference-logps, else ~/.cache/grpo4j/reference-logps).")
  String value;

  /** The cache folder, or null for no cache. */
  Path folder() {
    if (value == null) {
      return ReferenceLogProbs.defaultCacheFolder();
    }
    return value.equals(NONE) ? null : Path.of(value).toAbsolutePath();
  }
}
