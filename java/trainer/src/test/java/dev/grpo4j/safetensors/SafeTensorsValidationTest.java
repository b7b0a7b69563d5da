package dev.grpo4j.safetensors;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every malformed file is rejected when opened, with a message that names the file and the problem. */
class SafeTensorsValidationTest {
  @TempDir Path dir;

  private Path validFile() {
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    tensors.put("first", TestTensors.floats(new float[] {1, 2, 3}, 3));
    tensors.put("second", TestTensors.floats(new float[] {4, 5}, 2));
    Path file = dir.resolve("valid.safetensors");
    SafeTensorsWriter.write(file, tensors, null);
    return file;
  }

  private Path headerOnly(String header, int dataBytes) {
    return TestTensors.rawFile(dir.resolve("crafted.safetensors"), header, new byte[dataBytes]);
  }

  private static SafeTensorsException rejected(Path file, String... fragments) {
    SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensorsFile.open(file).close());
    assertTrue(e.getMessage().contains(file.toString()), "names the file: " + e.getMessage());
    for (String fragment : fragments) {
      assertTrue(e.getMessage().contains(fragment), "expected '" + fragment + "' in: " + e.getMessage());
    }
    return e;
  }

  @Test
  void fileShorterThanTheLengthPrefix() throws IOException {
    Path file = Files.write(dir.resolve("short.safetensors"), new byte[] {1, 2, 3, 4, 5});
    rejected(file, "5 bytes", "fewer than the 8-byte");
  }

  @Test
  void headerLengthBeyondTheFile() throws IOException {
    Path file = validFile();
    long size = Files.size(file);
    overwriteLength(file, size);
    rejected(file, "header length " + size, "beyond the file", "has " + size + " bytes");
    overwriteLength(file, -1);
    rejected(file, "header length 18446744073709551615", "beyond the file");
  }

  private static void overwriteLength(Path file, long length) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
      channel.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, length), 0);
    }
  }

  @Test
  void headerThatIsNotJsonOrNotAnObject() {
    rejected(headerOnly("{\"a\": {\"dtype\": ", 0), "not valid JSON");
    rejected(headerOnly("[1, 2]  ", 0), "not a JSON object", "array");
    rejected(headerOnly("{} {}", 0), "not valid JSON");
  }

  @Test
  void duplicateTensorName() {
    String entry = "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}";
    rejected(headerOnly("{\"x\":" + entry + ",\"x\":" + entry + "}", 1), "not valid JSON", "Duplicate");
  }

  @Test
  void unknownDtype() {
    rejected(headerOnly("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2),
        "tensor 'w'", "dtype 'F8_E4M3'", "BF16");
  }

  @Test
  void negativeShape() {
    rejected(headerOnly("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,0]}}", 0),
        "tensor 'w'", "negative shape");
  }

  @Test
  void offsetsThatAreNotABeginEndPair() {
    rejected(headerOnly("{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,4]}}", 8),
        "tensor 'w'", "end before they begin");
    rejected(headerOnly("{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4]}}", 8),
        "tensor 'w'", "[begin, end]");
    rejected(headerOnly("{\"w\":{\"dtype\":\"U8\",\"shape\":[4]}}", 8), "tensor 'w'", "data_offsets");
    rejected(headerOnly("{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,\"4\"]}}", 8),
        "tensor 'w'", "non-negative integer");
  }

  @Test
  void byteLengthThatDoesNotMatchTheShape() {
    rejected(headerOnly("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8),
        "tensor 'w'", "spanning 8 bytes", "needs 12 bytes");
  }

  @Test
  void truncatedFile() throws IOException {
    Path file = validFile();
    long size = Files.size(file);
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
      channel.truncate(size - 3);
    }
    rejected(file, "truncated file", "tensor 'second'", "expected at least " + size + " bytes",
        "file has " + (size - 3));
  }

  @Test
  void overlappingTensors() {
    rejected(headerOnly("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "'a' and 'b'", "overlapping");
  }

  @Test
  void emptyTensorsOverlapNothing() {
    Path file = headerOnly("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[4,4]}}", 8);
    SafeTensorsFile.open(file).close();
  }

  @Test
  void metadataThatIsNotStrings() {
    rejected(headerOnly("{\"__metadata__\":{\"step\":3}}", 0), "__metadata__", "'step'", "must be a string");
  }

  @Test
  void unknownNameListsSimilarNames() {
    Path file = headerOnly("{\"model.norm.weight\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
        + "\"model.embed.weight\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2);
    try (SafeTensorsFile read = SafeTensorsFile.open(file)) {
      SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> read.toTensor("norm.weight"));
      assertTrue(e.getMessage().contains("'norm.weight'") && e.getMessage().contains("did you mean "
          + "'model.norm.weight'"), e.getMessage());
      e = assertThrows(SafeTensorsException.class, () -> read.info("lm_head.weight"));
      assertTrue(e.getMessage().contains("'model.norm.weight', 'model.embed.weight'"), e.getMessage());
    }
  }

  @Test
  void missingFileIsAnIoError() {
    Path missing = dir.resolve("absent.safetensors");
    UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> SafeTensorsFile.open(missing));
    assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
  }
}
