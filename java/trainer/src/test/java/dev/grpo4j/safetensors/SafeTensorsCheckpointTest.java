package dev.grpo4j.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsCheckpointTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  /** Ten-float tensors (40 bytes) with one of 400 bytes in the middle. */
  private static Map<String, Tensor> weights() {
    Random random = new Random(11);
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    for (String name : List.of("embed", "layer0.q", "layer0.k", "big", "layer1.q", "layer1.k", "norm")) {
      tensors.put(name, TestTensors.randomFloats(random, name.equals("big") ? 100 : 10));
    }
    return tensors;
  }

  private static List<String> fileNames(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  private static void assertSameBytes(Map<String, Tensor> expected, SafeTensorsCheckpoint checkpoint) {
    assertEquals(expected.keySet().stream().sorted().toList(), checkpoint.names().stream().sorted().toList());
    for (Map.Entry<String, Tensor> entry : expected.entrySet()) {
      assertArrayEquals(TestTensors.bytes(entry.getValue()), TestTensors.bytes(checkpoint.toTensor(entry.getKey())),
          entry.getKey());
      Tensor target = TensorMemory.emptyCpu(DType.F32, TensorMemory.shape(entry.getValue()));
      checkpoint.copyInto(entry.getKey(), target);
      assertArrayEquals(TestTensors.bytes(entry.getValue()), TestTensors.bytes(target), entry.getKey());
    }
  }

  @Test
  void underTheLimitIsOneFileWithFormatMetadata() throws IOException {
    Map<String, Tensor> weights = weights();
    SafeTensorsCheckpoint.save(dir, weights, 10_000, Map.of("step", "3"));
    assertEquals(List.of("model.safetensors"), fileNames(dir));
    try (SafeTensorsFile file = SafeTensorsFile.open(dir.resolve("model.safetensors"))) {
      assertEquals(Map.of("step", "3", "format", "pt"), file.metadata());
    }
    try (SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint.open(dir)) {
      assertEquals(List.copyOf(weights.keySet()), checkpoint.names());
      assertSameBytes(weights, checkpoint);
    }
  }

  @Test
  void overTheLimitIsShardedWithAnIndex() throws IOException {
    Map<String, Tensor> weights = weights();
    SafeTensorsCheckpoint.save(dir, weights, 100, null);

    // 40+40 | 40 | 400 alone | 40+40 | 40: a shard closes when the next tensor would pass 100 bytes.
    List<String> shards = List.of("model-00001-of-00005.safetensors", "model-00002-of-00005.safetensors",
        "model-00003-of-00005.safetensors", "model-00004-of-00005.safetensors", "model-00005-of-00005.safetensors");
    assertEquals(Stream.concat(shards.stream(), Stream.of("model.safetensors.index.json")).sorted().toList(),
        fileNames(dir));
    String indexText = Files.readString(dir.resolve("model.safetensors.index.json"));
    assertTrue(indexText.startsWith("{\n  \"metadata\": {\n    \"total_size\": 640\n  },\n  \"weight_map\": {\n"
        + "    \"big\": \"model-00003-of-00005.safetensors\",\n"), "Hugging Face's layout: " + indexText);
    JsonNode index = JSON.readTree(indexText);
    assertEquals(6 * 40 + 400, index.get("metadata").get("total_size").asLong());
    JsonNode weightMap = index.get("weight_map");
    assertEquals(shards.get(0), weightMap.get("embed").asText());
    assertEquals(shards.get(0), weightMap.get("layer0.q").asText());
    assertEquals(shards.get(1), weightMap.get("layer0.k").asText());
    assertEquals(shards.get(2), weightMap.get("big").asText());
    assertEquals(shards.get(3), weightMap.get("layer1.q").asText());
    assertEquals(shards.get(4), weightMap.get("norm").asText());
    for (String shard : shards) {
      try (SafeTensorsFile file = SafeTensorsFile.open(dir.resolve(shard))) {
        assertEquals(Map.of("format", "pt"), file.metadata());
      }
    }

    try (SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint.open(dir)) {
      assertEquals(shards.stream().map(dir::resolve).toList(), checkpoint.files());
      assertSameBytes(weights, checkpoint);
      assertEquals(dir.resolve(shards.get(2)), checkpoint.fileOf("big").path());
    }
  }

  @Test
  void adapterFileNames() throws IOException {
    Map<String, Tensor> weights = weights();
    // 40+40+40+400 fill the first shard exactly; the other three go to the second.
    SafeTensorsCheckpoint.save(dir, SafeTensorsCheckpoint.ADAPTER_PREFIX, weights, 520, Map.of());
    assertEquals(List.of("adapter_model-00001-of-00002.safetensors", "adapter_model-00002-of-00002.safetensors",
        "adapter_model.safetensors.index.json"), fileNames(dir));
    SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensorsCheckpoint.open(dir));
    assertTrue(e.getMessage().contains("no model.safetensors or model.safetensors.index.json in " + dir),
        e.getMessage());
    try (SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint.open(
        dir, "adapter_model.safetensors", "adapter_model.safetensors.index.json")) {
      assertSameBytes(weights, checkpoint);
    }
  }

  @Test
  void missingShard() throws IOException {
    SafeTensorsCheckpoint.save(dir, weights(), 100, null);
    Files.delete(dir.resolve("model-00003-of-00005.safetensors"));
    SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensorsCheckpoint.open(dir));
    assertTrue(e.getMessage().contains("model-00003-of-00005.safetensors") && e.getMessage().contains("'big'")
        && e.getMessage().contains("is missing"), e.getMessage());
  }

  @Test
  void indexNamingATensorItsShardLacks() throws IOException {
    SafeTensorsCheckpoint.save(dir, weights(), 100, null);
    Path indexFile = dir.resolve("model.safetensors.index.json");
    ObjectNode index = (ObjectNode) JSON.readTree(indexFile.toFile());
    ((ObjectNode) index.get("weight_map")).put("lm_head.weight", "model-00002-of-00005.safetensors");
    JSON.writeValue(indexFile.toFile(), index);
    SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensorsCheckpoint.open(dir));
    assertTrue(e.getMessage().contains("'lm_head.weight' (model-00002-of-00005.safetensors)"), e.getMessage());
  }

  @Test
  void indexPointingOutsideItsFolder() throws IOException {
    Files.writeString(dir.resolve("model.safetensors.index.json"),
        "{\"metadata\":{},\"weight_map\":{\"w\":\"../model.safetensors\"}}");
    SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensorsCheckpoint.open(dir));
    assertTrue(e.getMessage().contains("plain file name"), e.getMessage());
  }

  @Test
  void emptyOrMissingFolder() {
    SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensorsCheckpoint.open(dir));
    assertTrue(e.getMessage().contains("no model.safetensors or model.safetensors.index.json in " + dir),
        e.getMessage());
    Path missing = dir.resolve("nowhere");
    e = assertThrows(SafeTensorsException.class, () -> SafeTensorsCheckpoint.open(missing));
    assertTrue(e.getMessage().contains(missing + " does not exist"), e.getMessage());
  }

  @Test
  void saveRefusesAFolderWithEarlierWeights() throws IOException {
    SafeTensorsCheckpoint.save(dir, weights(), 100, null);
    SafeTensorsException e = assertThrows(SafeTensorsException.class,
        () -> SafeTensorsCheckpoint.save(dir, weights(), 1_000_000, null));
    assertTrue(e.getMessage().contains("model-00001-of-00005.safetensors")
        && e.getMessage().contains("empty or new folder"), e.getMessage());
    assertFalse(Files.exists(dir.resolve("model.safetensors")));

    Path nested = dir.resolve("a/b");
    SafeTensorsCheckpoint.save(nested, weights(), 1_000_000, null);
    assertTrue(Files.isRegularFile(nested.resolve("model.safetensors")), "missing folders are created");
    assertThrows(IllegalArgumentException.class, () -> SafeTensorsCheckpoint.save(dir.resolve("c"), weights(), 0,
        null));
  }

  @Test
  void unknownNameAndClose() {
    SafeTensorsCheckpoint.save(dir, weights(), 100, null);
    SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint.open(dir);
    SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> checkpoint.info("q"));
    assertTrue(e.getMessage().contains("'q'") && e.getMessage().contains("did you mean 'layer0.q'"),
        e.getMessage());
    checkpoint.close();
    checkpoint.close();
    IllegalStateException closed = assertThrows(IllegalStateException.class, () -> checkpoint.toTensor("big"));
    assertTrue(closed.getMessage().contains("is closed"), closed.getMessage());
  }
}
