package dev.grpo4j.safetensors;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsRoundTripTest {
  private static final List<long[]> AWKWARD_SHAPES =
      List.of(new long[] {}, new long[] {0, 3}, new long[] {1}, new long[] {7, 5, 3});

  @TempDir Path dir;

  @Test
  void everyDtypeAndAwkwardShapeRoundTripsBitIdentically() {
    Random random = new Random(7);
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    for (DType dtype : DType.values()) {
      for (long[] shape : AWKWARD_SHAPES) {
        tensors.put(dtype.code() + Arrays.toString(shape), TestTensors.random(dtype, shape, random));
      }
    }
    Path file = dir.resolve("all.safetensors");
    SafeTensorsWriter.write(file, tensors, Map.of("purpose", "round trip"));

    try (SafeTensorsFile read = SafeTensorsFile.open(file)) {
      assertEquals(List.copyOf(tensors.keySet()), read.names(), "names come back in the order written");
      assertEquals(Map.of("purpose", "round trip"), read.metadata());
      for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
        String name = entry.getKey();
        Tensor original = entry.getValue();
        TensorInfo info = read.info(name);
        assertEquals(DType.fromScalarType(original.scalar_type()).orElseThrow(), info.dtype(), name);
        assertArrayEquals(TensorMemory.shape(original), info.shape(), name);
        byte[] expected = TestTensors.bytes(original);
        assertArrayEquals(expected, read.data(name).toArray(JAVA_BYTE), name + ": mapped bytes");

        Tensor loaded = read.toTensor(name);
        assertEquals(original.scalar_type().intern(), loaded.scalar_type().intern(), name);
        assertArrayEquals(TensorMemory.shape(original), TensorMemory.shape(loaded), name);
        assertArrayEquals(expected, TestTensors.bytes(loaded), name + ": tensor bytes");
      }
    }
  }

  @Test
  void metadataIsWrittenInKeyOrderWhateverTheMapsOrder() throws IOException {
    Map<String, String> forward = new LinkedHashMap<>();
    Map<String, String> backward = new LinkedHashMap<>();
    for (String key : List.of("sha256", "format", "a", "zeta")) {
      forward.put(key, key + "-value");
    }
    for (String key : List.of("zeta", "a", "format", "sha256")) {
      backward.put(key, key + "-value");
    }
    Path first = dir.resolve("forward.safetensors");
    Path second = dir.resolve("backward.safetensors");
    SafeTensorsWriter.write(first, Map.of("w", TestTensors.floats(new float[] {1, 2}, 2)), forward);
    SafeTensorsWriter.write(second, Map.of("w", TestTensors.floats(new float[] {1, 2}, 2)), backward);
    assertArrayEquals(Files.readAllBytes(first), Files.readAllBytes(second));
    String header = new String(Files.readAllBytes(first), StandardCharsets.UTF_8);
    assertTrue(header.indexOf("\"a\"") < header.indexOf("\"format\"")
        && header.indexOf("\"format\"") < header.indexOf("\"sha256\"")
        && header.indexOf("\"sha256\"") < header.indexOf("\"zeta\""), header);
  }

  @Test
  void headerIsPaddedWithSpacesToAMultipleOfEight() throws IOException {
    ObjectMapper json = new ObjectMapper();
    // Names of lengths 1..9 move the unpadded header length through every remainder mod 8.
    for (int nameLength = 1; nameLength <= 9; nameLength++) {
      Path file = dir.resolve("pad" + nameLength + ".safetensors");
      SafeTensorsWriter.write(file, Map.of("w".repeat(nameLength), TestTensors.floats(new float[] {1, 2}, 2)),
          null);
      byte[] bytes = Files.readAllBytes(file);
      long headerLength = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
      assertEquals(0, headerLength % 8, "header length " + headerLength);
      assertEquals(8 + headerLength + 8, bytes.length, "header then the two floats");
      String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
      assertEquals('{', header.charAt(0));
      String trimmed = header.stripTrailing();
      assertTrue(header.substring(trimmed.length()).chars().allMatch(c -> c == ' '), "padding is spaces");
      assertTrue(header.length() - trimmed.length() < 8, "at most 7 bytes of padding");
      JsonNode entry = json.readTree(trimmed).get("w".repeat(nameLength));
      assertEquals("[0,8]", entry.get("data_offsets").toString());
      assertFalse(json.readTree(trimmed).has(SafeTensorsFile.METADATA_KEY), "no metadata was given");
    }
  }

  @Test
  void handWrittenFileIsReadCorrectly() {
    // Written without the writer, unpadded, with the metadata last and a gap before the second tensor, so a bug
    // shared by the writer and the reader cannot hide.
    String header = "{\"b\":{\"dtype\":\"I16\",\"shape\":[1,3],\"data_offsets\":[12,18]},"
        + "\"a\":{\"shape\":[2],\"data_offsets\":[0,8],\"dtype\":\"F32\"},"
        + "\"h\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[18,20]},"
        + "\"__metadata__\":{\"format\":\"pt\"}}";
    ByteBuffer data = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
    data.putFloat(1.5f).putFloat(-2.0f);
    data.putInt(0x7f7f7f7f); // bytes no tensor refers to
    data.putShort((short) 1).putShort((short) -300).putShort(Short.MAX_VALUE);
    data.put((byte) 0x80).put((byte) 0x3f); // bfloat16 1.0 is 0x3f80
    Path file = TestTensors.rawFile(dir.resolve("hand.safetensors"), header, data.array());

    try (SafeTensorsFile read = SafeTensorsFile.open(file)) {
      assertEquals(List.of("b", "a", "h"), read.names(), "header order");
      assertEquals(Map.of("format", "pt"), read.metadata());
      TensorInfo a = read.info("a");
      assertEquals(new TensorInfo("a", DType.F32, new long[] {2}, 8 + header.length(), 8), a);
      assertEquals(8 + header.length() + 12, read.info("b").byteOffset());

      Tensor floats = read.toTensor("a");
      assertEquals(ScalarType.Float, floats.scalar_type().intern());
      assertEquals(1.5, floats.select(0, 0).item_double());
      assertEquals(-2.0, floats.select(0, 1).item_double());

      Tensor shorts = read.toTensor("b");
      assertEquals(ScalarType.Short, shorts.scalar_type().intern());
      assertArrayEquals(new long[] {1, 3}, TensorMemory.shape(shorts));
      assertEquals(-300, shorts.select(1, 1).item_long());
      assertEquals(Short.MAX_VALUE, shorts.select(1, 2).item_long());

      Tensor scalar = read.toTensor("h");
      assertEquals(0, scalar.dim(), "shape [] is a scalar");
      assertEquals(1.0, scalar.to(ScalarType.Float).item_double());
    }
  }

  @Test
  void viewsAndTensorsSharingStorageAreEachWrittenDensely() {
    Tensor base = TestTensors.floats(new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 3, 4);
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    tensors.put("base", base);
    tensors.put("transposed", base.t());
    tensors.put("row", base.select(0, 1));
    tensors.put("alias", base);
    Path file = dir.resolve("views.safetensors");
    SafeTensorsWriter.write(file, tensors, Map.of());

    try (SafeTensorsFile read = SafeTensorsFile.open(file)) {
      assertArrayEquals(new long[] {4, 3}, read.info("transposed").shape());
      for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
        assertArrayEquals(TestTensors.bytes(entry.getValue()), TestTensors.bytes(read.toTensor(entry.getKey())),
            entry.getKey());
      }
      assertEquals(read.info("base").byteLength(), read.info("alias").byteLength());
      assertTrue(read.info("alias").byteOffset() != read.info("base").byteOffset(), "no aliasing in the file");
    }
  }

  @Test
  void writerRejectsUnwritableNamesAndTensorsBeforeCreatingTheFile() {
    Path file = dir.resolve("bad.safetensors");
    Tensor ok = TestTensors.floats(new float[] {1}, 1);
    assertRejected(file, Map.of("", ok), "non-empty");
    assertRejected(file, Map.of(SafeTensorsFile.METADATA_KEY, ok), "reserved for the header's metadata");
    assertRejected(file, Map.of("undefined", new Tensor()), "'undefined'");
    Tensor complex = ok.to(ScalarType.ComplexFloat);
    assertRejected(file, Map.of("complex", complex), "ComplexFloat");
    assertFalse(Files.exists(file), "nothing is written when validation fails");
  }

  private static void assertRejected(Path file, Map<String, Tensor> tensors, String fragment) {
    SafeTensorsException e =
        assertThrows(SafeTensorsException.class, () -> SafeTensorsWriter.write(file, tensors, null));
    assertTrue(e.getMessage().contains(fragment), e.getMessage());
  }

  @Test
  void mappedDataIsReadOnlyAndCloseReleasesIt() {
    Path file = dir.resolve("close.safetensors");
    SafeTensorsWriter.write(file, Map.of("w", TestTensors.floats(new float[] {1, 2, 3}, 3)), null);
    SafeTensorsFile read = SafeTensorsFile.open(file);
    MemorySegment data = read.data("w");
    assertTrue(data.isReadOnly());
    assertThrows(IllegalArgumentException.class, () -> data.set(JAVA_BYTE, 0, (byte) 1), "read-only");

    read.close();
    read.close();
    IllegalStateException closed = assertThrows(IllegalStateException.class, () -> read.toTensor("w"));
    assertTrue(closed.getMessage().contains("is closed"), closed.getMessage());
    assertTrue(closed.getMessage().contains(file.toString()), closed.getMessage());
    assertThrows(IllegalStateException.class, read::names);
    assertThrows(IllegalStateException.class, () -> data.get(JAVA_BYTE, 0), "the mapping is gone");
  }
}
