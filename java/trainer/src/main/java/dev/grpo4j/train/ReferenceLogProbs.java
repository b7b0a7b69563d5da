package dev.grpo4j.train;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.grpo4j.dist.DataParallel;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.platform.LibTorch;
import dev.grpo4j.safetensors.SafeTensorsFile;
import dev.grpo4j.safetensors.SafeTensorsWriter;
import dev.grpo4j.text.TokenPair;
import dev.grpo4j.torch.SequenceScorer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.IntConsumer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;

/**
 * Reference log-probs of a data split, computed once per (reference model, encoded data) and cached as a small
 * safetensors file in a cache folder shared by runs ({@link #defaultCacheFolder()} unless the command names
 * another). The key is the SHA-256 of the model's configuration and base weights and of the encoded token pairs
 * (so it changes with the tokenizer, the truncation lengths and the groups, not only with the file's bytes).
 */
public final class ReferenceLogProbs {
  static {
    LibTorch.load();
  }

  /** The cache file's metadata entry that holds {@link #checksum}: a damaged file is recomputed, never used. */
  private static final String CHECKSUM = "sha256";

  /** System property that overrides the default cache folder (the tests point it into their build folder). */
  public static final String CACHE_PROPERTY = "grpo4j.cache.dir";

  private ReferenceLogProbs() {}

  /**
   * SHA-256 (hex) of the reference model: its configuration and every base parameter's name, dtype, shape and
   * bytes. LoRA adapters are not part of it; the reference is the base model.
   */
  public static String modelHash(TransformerLm model) {
    MessageDigest digest = sha256();
    digest.update(model.config().toJson("hash").toString().getBytes(StandardCharsets.UTF_8));
    Device cpu = new Device("cpu");
    for (Map.Entry<String, Tensor> e : model.namedParameters().entrySet()) {
      Tensor t = e.getValue().detach().to(cpu, e.getValue().scalar_type().intern()).contiguous();
      digest.update((e.getKey() + "|" + t.scalar_type().intern() + "|" + Arrays.toString(t.sizes().vec()
          .get()) + "|").getBytes(StandardCharsets.UTF_8));
      MemorySegment bytes = HostTensors.data(t).reinterpret(t.nbytes());
      digest.update(bytes.asByteBuffer());
      Reference.reachabilityFence(t);
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  /** SHA-256 (hex) of encoded pairs: every pair's group and token ids, in order. */
  public static String dataHash(List<TokenPair> pairs) {
    MessageDigest digest = sha256();
    ByteBuffer buffer = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    for (TokenPair p : pairs) {
      put(digest, buffer, p.group());
      for (int[] part : new int[][] {p.prompt(), p.chosen(), p.rejected()}) {
        put(digest, buffer, part.length);
        for (int token : part) {
          put(digest, buffer, token);
        }
      }
    }
    buffer.flip();
    digest.update(buffer);
    return HexFormat.of().formatHex(digest.digest());
  }

  /** The cache file of {@code dataFile} under a key. */
  public static Path cacheFile(Path cacheFolder, Path dataFile, String modelHash, String dataHash) {
    String key = sha256Hex(modelHash + ":" + dataHash).substring(0, 24);
    return cacheFolder.resolve(dataFile.getFileName() + "." + key + ".ref-logps.safetensors");
  }

  /**
   * The user's cache folder for reference log-probs: {@code -Dgrpo4j.cache.dir}, else
   * {@code $XDG_CACHE_HOME/grpo4j/reference-logps}, else {@code ~/.cache/grpo4j/reference-logps}. Not beside the
   * data, which may be read-only or shared.
   */
  public static Path defaultCacheFolder() {
    String override = System.getProperty(CACHE_PROPERTY);
    if (override != null && !override.isBlank()) {
      return Path.of(override).resolve("reference-logps");
    }
    String xdg = System.getenv("XDG_CACHE_HOME");
    Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
    return base.resolve("grpo4j").resolve("reference-logps");
  }

  /**
   * The reference log-probs of {@code pairs}: cached ones, or, on a miss, ones computed with {@code scorer} and
   * then cached. On several ranks rank 0 reads the cache and sends a hit to every rank; on a miss each rank scores
   * a run of whole {@code chunkPairs} chunks (the chunks one process forms, so every score is the one it computes),
   * the shards are gathered, and rank 0 writes the cache. A cache folder that cannot be written only costs the
   * recomputation next time.
   *
   * @param cacheFolder where cached scores live, or null to compute without a cache
   * @param dp this process's place among the ranks ({@link DataParallel#single()} alone)
   * @param log receives one line on what happened
   */
  public static SequenceScorer.Scores scoreCached(SequenceScorer scorer, Path cacheFolder, Path dataFile,
                                                  String modelHash, List<TokenPair> pairs, int chunkPairs,
                                                  DataParallel dp, IntConsumer progress, Consumer<String> log) {
    int n = pairs.size();
    Path cache = cacheFolder == null ? null : cacheFile(cacheFolder, dataFile, modelHash, dataHash(pairs));
    SequenceScorer.Scores cached = null;
    if (dp.isMain() && cache != null && Files.isRegularFile(cache)) {
      try {
        cached = read(cache, n);
      } catch (RuntimeException e) {
        log.accept("ignoring unreadable cache " + cache + " (" + e.getMessage() + "); recomputing");
      }
    }
    if (dp.anyTrue(cached != null)) {
      float[] chosen = cached != null ? cached.chosen() : new float[n];
      float[] rejected = cached != null ? cached.rejected() : new float[n];
      dp.broadcastFromMain(chosen);
      dp.broadcastFromMain(rejected);
      log.accept("reference log-probs of " + dataFile + ": cached in " + cache);
      return new SequenceScorer.Scores(chosen, rejected);
    }
    int[] range = dp.shardOfChunks(n, chunkPairs);
    int[] lengths = dp.shardLengths(n, chunkPairs);
    SequenceScorer.Scores mine = scorer.score(pairs.subList(range[0], range[1]), chunkPairs, progress);
    SequenceScorer.Scores scores = new SequenceScorer.Scores(dp.gather(mine.chosen(), lengths),
        dp.gather(mine.rejected(), lengths));
    String computed = "reference log-probs of " + dataFile + ": computed"
        + (dp.worldSize() > 1 ? " on " + dp.worldSize() + " processes" : "");
    if (cache == null) {
      log.accept(computed);
    } else if (dp.isMain()) {
      try {
        Files.createDirectories(cache.getParent());
        write(cache, scores);
        log.accept(computed + ", cached in " + cache);
      } catch (IOException | UncheckedIOException e) {
        log.accept(computed + "; could not cache them in " + cache + " (" + e.getMessage() + ")");
      }
    }
    return scores;
  }

  /** Writes scores as two float32 tensors {@code chosen} and {@code rejected}, replacing {@code file} atomically. */
  public static void write(Path file, SequenceScorer.Scores scores) throws IOException {
    Path tmp = file.resolveSibling("." + file.getFileName() + ".partial-" + ProcessHandle.current().pid());
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    tensors.put("chosen", HostTensors.floats(scores.chosen(), scores.chosen().length));
    tensors.put("rejected", HostTensors.floats(scores.rejected(), scores.rejected().length));
    SafeTensorsWriter.write(tmp, tensors, Map.of("format", "grpo4j-reference-logps", CHECKSUM,
        checksum(scores.chosen(), scores.rejected())));
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /**
   * Reads scores written by {@link #write}.
   *
   * @throws IllegalArgumentException if the file does not hold {@code pairs} scores per side, or its values are not
   *     the ones written (a damaged file, or one of an older grpo4j without the checksum)
   */
  public static SequenceScorer.Scores read(Path file, int pairs) {
    try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
      float[] chosen = f.data("chosen").toArray(JAVA_FLOAT);
      float[] rejected = f.data("rejected").toArray(JAVA_FLOAT);
      if (chosen.length != pairs || rejected.length != pairs) {
        throw new IllegalArgumentException(file + " holds " + chosen.length + " and " + rejected.length
            + " reference log-probs, the data " + pairs + " pairs");
      }
      String recorded = f.metadata().get(CHECKSUM);
      if (recorded == null || !recorded.equals(checksum(chosen, rejected))) {
        throw new IllegalArgumentException(file + (recorded == null ? " records no checksum"
            : " does not hold the values it was written with (checksum mismatch)"));
      }
      return new SequenceScorer.Scores(chosen, rejected);
    }
  }

  /** SHA-256 (hex) of the scores' float32 bits, chosen then rejected, little-endian. */
  private static String checksum(float[] chosen, float[] rejected) {
    ByteBuffer bytes = ByteBuffer.allocate(Float.BYTES * (chosen.length + rejected.length))
        .order(ByteOrder.LITTLE_ENDIAN);
    bytes.asFloatBuffer().put(chosen).put(rejected);
    return HexFormat.of().formatHex(sha256().digest(bytes.array()));
  }

  private static void put(MessageDigest digest, ByteBuffer buffer, int value) {
    if (buffer.remaining() < Integer.BYTES) {
      buffer.flip();
      digest.update(buffer);
      buffer.clear();
    }
    buffer.putInt(value);
  }

  private static String sha256Hex(String text) {
    return HexFormat.of().formatHex(sha256().digest(text.getBytes(StandardCharsets.UTF_8)));
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK lacks SHA-256", e);
    }
  }
}
