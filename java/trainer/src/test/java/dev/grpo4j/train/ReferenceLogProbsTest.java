package dev.grpo4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.Backend;
import dev.grpo4j.dist.DataParallel;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Models;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.text.TokenPair;
import dev.grpo4j.torch.SequenceScorer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.bytedeco.pytorch.Device;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ReferenceLogProbs}: what the model and data keys depend on, the cache file's place and format, and that
 * {@link ReferenceLogProbs#scoreCached} really serves the second call from the file.
 */
class ReferenceLogProbsTest {
  private static final int VOCAB = 257;

  private static TokenPair pair(int group, int[] prompt, int[] chosen, int[] rejected) {
    return new TokenPair(group, prompt, chosen, rejected);
  }

  private static List<TokenPair> pairs() {
    return List.of(
        pair(0, new int[] {1, 2, 3}, new int[] {4, 5}, new int[] {6}),
        pair(1, new int[] {7, 8}, new int[] {9, 10, 11}, new int[] {12, 13}),
        pair(0, new int[] {256}, new int[] {0}, new int[] {100, 200, 255}));
  }

  @Test
  void dataHashIsEqualForEqualPairs() {
    assertEquals(ReferenceLogProbs.dataHash(pairs()), ReferenceLogProbs.dataHash(new ArrayList<>(pairs())));
    assertEquals(64, ReferenceLogProbs.dataHash(pairs()).length(), "hex SHA-256");
  }

  @Test
  void dataHashChangesWithTokensGroupsSplitsAndOrder() {
    String base = ReferenceLogProbs.dataHash(List.of(pair(0, new int[] {1, 2, 3}, new int[] {4, 5}, new int[] {6})));
    List<List<TokenPair>> variants = List.of(
        List.of(pair(0, new int[] {1, 2, 3}, new int[] {4, 5}, new int[] {7})),
        List.of(pair(0, new int[] {1, 2, 9}, new int[] {4, 5}, new int[] {6})),
        List.of(pair(1, new int[] {1, 2, 3}, new int[] {4, 5}, new int[] {6})),
        // The same token stream split differently between prompt and responses.
        List.of(pair(0, new int[] {1, 2}, new int[] {3, 4, 5}, new int[] {6})),
        List.of(pair(0, new int[] {1, 2, 3}, new int[] {4}, new int[] {5, 6})),
        List.of(pair(0, new int[] {1, 2, 3}, new int[] {6}, new int[] {4, 5})));
    for (List<TokenPair> v : variants) {
      assertNotEquals(base, ReferenceLogProbs.dataHash(v), v.toString());
    }
    List<TokenPair> reversed = new ArrayList<>(pairs()).reversed();
    assertNotEquals(ReferenceLogProbs.dataHash(pairs()), ReferenceLogProbs.dataHash(reversed), "order matters");
    assertNotEquals(ReferenceLogProbs.dataHash(pairs()), ReferenceLogProbs.dataHash(pairs().subList(0, 2)));
  }

  @Test
  void dataHashOfManyTokensIsTheDigestOfTheirLittleEndianStream() throws NoSuchAlgorithmException {
    // More than the 64 KiB buffer, so the hash spans several flushes.
    List<TokenPair> pairs = new ArrayList<>();
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    for (int p = 0; p < 40; p++) {
      int[][] parts = new int[3][];
      for (int part = 0; part < 3; part++) {
        parts[part] = new int[97 + 53 * p + part];
        for (int i = 0; i < parts[part].length; i++) {
          parts[part][i] = (p * 7919 + part * 31 + i) % VOCAB;
        }
      }
      pairs.add(pair(p % 3, parts[0], parts[1], parts[2]));
      ByteBuffer b = ByteBuffer.allocate(4 * (4 + parts[0].length + parts[1].length + parts[2].length))
          .order(ByteOrder.LITTLE_ENDIAN);
      b.putInt(p % 3);
      for (int[] part : parts) {
        b.putInt(part.length);
        for (int t : part) {
          b.putInt(t);
        }
      }
      digest.update(b.array());
    }
    assertEquals(HexFormat.of().formatHex(digest.digest()), ReferenceLogProbs.dataHash(pairs));
  }

  @Test
  void modelHashFollowsTheWeights() {
    ModelConfig config = ModelConfig.tiny("tiny-llama", VOCAB);
    String a = ReferenceLogProbs.modelHash(Models.random(config, 5));
    String b = ReferenceLogProbs.modelHash(Models.random(config, 5));
    String c = ReferenceLogProbs.modelHash(Models.random(config, 6));
    assertEquals(a, b);
    assertNotEquals(a, c);
    assertNotEquals(a, ReferenceLogProbs.modelHash(Models.random(ModelConfig.tiny("tiny-qwen2", VOCAB), 5)),
        "the configuration is part of the key");
  }

  @Test
  void scoresRoundTripExactly(@TempDir Path dir) throws IOException {
    SequenceScorer.Scores scores = new SequenceScorer.Scores(
        new float[] {-12.5f, -0.1f, Float.MIN_VALUE, -3.4028235e38f, -0.0f},
        new float[] {-1.0986123f, -7.25f, -1e-30f, 0.0f, -99.99f});
    Path file = dir.resolve("scores.safetensors");
    ReferenceLogProbs.write(file, scores);
    SequenceScorer.Scores read = ReferenceLogProbs.read(file, 5);
    assertArrayEquals(scores.chosen(), read.chosen());
    assertArrayEquals(scores.rejected(), read.rejected());
    assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(read.chosen()[4]));
  }

  @Test
  void aDamagedButWellFormedCacheFileIsRefused(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("scores.safetensors");
    ReferenceLogProbs.write(file, new SequenceScorer.Scores(new float[] {-1, -2, -3}, new float[] {-4, -5, -6}));
    byte[] bytes = Files.readAllBytes(file);
    java.util.Arrays.fill(bytes, bytes.length - 8, bytes.length, (byte) 0);
    Files.write(file, bytes);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ReferenceLogProbs.read(file, 3));
    assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());
  }

  @Test
  void readWithTheWrongPairCountThrows(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("scores.safetensors");
    ReferenceLogProbs.write(file, new SequenceScorer.Scores(new float[] {1, 2, 3}, new float[] {4, 5, 6}));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ReferenceLogProbs.read(file, 4));
    assertTrue(e.getMessage().contains("4 pairs") && e.getMessage().contains(file.toString()), e.getMessage());
  }

  @Test
  void cacheFileLiesInTheCacheFolderAndDependsOnTheKey(@TempDir Path dir) {
    Path folder = dir.resolve("cache");
    Path data = dir.resolve("splits").resolve("train.jsonl");
    Path cache = ReferenceLogProbs.cacheFile(folder, data, "model-a", "data-a");
    assertEquals(folder, cache.getParent());
    assertTrue(cache.getFileName().toString().startsWith("train.jsonl."), cache.toString());
    assertTrue(cache.getFileName().toString().endsWith(".safetensors"), cache.toString());
    assertEquals(cache, ReferenceLogProbs.cacheFile(folder, data, "model-a", "data-a"));
    assertNotEquals(cache, ReferenceLogProbs.cacheFile(folder, data, "model-b", "data-a"));
    assertNotEquals(cache, ReferenceLogProbs.cacheFile(folder, data, "model-a", "data-b"));
    assertNotEquals(cache, ReferenceLogProbs.cacheFile(folder, dir.resolve("splits").resolve("test.jsonl"),
        "model-a", "data-a"));
  }

  @Test
  void theDefaultCacheIsTheUsersNotBesideTheData() {
    String saved = System.getProperty(ReferenceLogProbs.CACHE_PROPERTY);
    try {
      System.setProperty(ReferenceLogProbs.CACHE_PROPERTY, "/tmp/grpo4j-test-cache");
      assertEquals(Path.of("/tmp/grpo4j-test-cache/reference-logps"), ReferenceLogProbs.defaultCacheFolder());
      System.clearProperty(ReferenceLogProbs.CACHE_PROPERTY);
      Path folder = ReferenceLogProbs.defaultCacheFolder();
      assertTrue(folder.endsWith(Path.of("grpo4j", "reference-logps")), folder.toString());
    } finally {
      if (saved != null) {
        System.setProperty(ReferenceLogProbs.CACHE_PROPERTY, saved);
      }
    }
  }

  @Test
  void secondCallIsServedFromTheCache(@TempDir Path dir) throws IOException {
    Path data = dir.resolve("train.jsonl");
    Files.writeString(data, "{}\n");
    ModelConfig config = ModelConfig.tiny("tiny-llama", VOCAB);
    TransformerLm first = Models.random(config, 1);
    first.eval();
    String hash = ReferenceLogProbs.modelHash(first);
    SequenceScorer firstScorer = new SequenceScorer(first, Backend.CPU, new Device("cpu"));
    List<TokenPair> pairs = pairs();
    List<String> log = new ArrayList<>();
    AtomicInteger progress = new AtomicInteger();

    SequenceScorer.Scores computed = ReferenceLogProbs.scoreCached(firstScorer, dir.resolve("cache"), data, hash, pairs, 2,
        DataParallel.single(), progress::addAndGet, log::add);
    Path cache = ReferenceLogProbs.cacheFile(dir.resolve("cache"), data, hash, ReferenceLogProbs.dataHash(pairs));
    assertTrue(Files.isRegularFile(cache), "the first call writes the cache");
    assertEquals(3, progress.get());
    assertEquals(1, log.size());
    assertTrue(log.getFirst().contains("computed"), log.getFirst());
    assertArrayEquals(firstScorer.score(pairs, 3, n -> { }).chosen(), computed.chosen());

    // A scorer that would give other values, under the first model's key: only a cache hit returns the first ones.
    TransformerLm other = Models.random(config, 2);
    other.eval();
    SequenceScorer otherScorer = new SequenceScorer(other, Backend.CPU, new Device("cpu"));
    assertFalse(Arrays.equals(computed.chosen(), otherScorer.score(pairs, 3, n -> { }).chosen()));
    progress.set(0);
    log.clear();
    SequenceScorer.Scores cached = ReferenceLogProbs.scoreCached(otherScorer, dir.resolve("cache"), data, hash, pairs, 2,
        DataParallel.single(), progress::addAndGet, log::add);
    assertArrayEquals(computed.chosen(), cached.chosen());
    assertArrayEquals(computed.rejected(), cached.rejected());
    assertEquals(0, progress.get(), "nothing scored");
    assertEquals(1, log.size());
    assertTrue(log.getFirst().contains("cached"), log.getFirst());
    assertFalse(log.getFirst().contains("computed"), log.getFirst());
  }

  @Test
  void unreadableCacheIsRecomputedAndReplaced(@TempDir Path dir) throws IOException {
    Path data = dir.resolve("validation.jsonl");
    TransformerLm model = Models.random(ModelConfig.tiny("tiny-llama", VOCAB), 3);
    model.eval();
    SequenceScorer scorer = new SequenceScorer(model, Backend.CPU, new Device("cpu"));
    List<TokenPair> pairs = pairs();
    Path cache = ReferenceLogProbs.cacheFile(dir.resolve("cache"), data, "key", ReferenceLogProbs.dataHash(pairs));
    Files.createDirectories(cache.getParent());
    Files.writeString(cache, "not a safetensors file");
    List<String> log = new ArrayList<>();
    SequenceScorer.Scores scores = ReferenceLogProbs.scoreCached(scorer, dir.resolve("cache"), data, "key", pairs, 8,
        DataParallel.single(), n -> { }, log::add);
    assertTrue(log.getFirst().contains("ignoring unreadable cache"), log.toString());
    assertTrue(log.getLast().contains("computed"), log.toString());
    SequenceScorer.Scores reread = ReferenceLogProbs.read(cache, pairs.size());
    assertArrayEquals(scores.chosen(), reread.chosen());
    assertArrayEquals(scores.rejected(), reread.rejected());
  }
}
