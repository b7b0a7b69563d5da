package dev.grpo4j.text;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;

/**
 * UTF-8 bytes as token ids {@code 0..255}, optionally with an end-of-sequence id 256 after the byte values (the
 * built-in models' vocabulary).
 *
 * <p>There are no beginning-of-sequence tokens, so prompts and responses encode alike.
 */
public final class ByteTextTokenizer implements TextTokenizer {
  /**
   * The file a model folder trained from a built-in model carries instead of {@code tokenizer.json}: it reads bytes
   * plus EOS. Commands then need no {@code --tokenizer bytes}.
   */
  public static final String MARKER_FILE = "grpo4j_tokenizer.json";

  private static final int BYTE_VALUES = 256;
  private static final String MARKER = "{\n  \"tokenizer\": \"grpo4j-bytes\",\n  \"eos_token_id\": 256\n}\n";

  private final boolean hasEos;

  private ByteTextTokenizer(boolean hasEos) {
    this.hasEos = hasEos;
  }

  /** Records in {@code modelDir} that the model reads bytes plus EOS ({@link #withEos()}). */
  public static void writeMarker(Path modelDir) throws IOException {
    Files.writeString(modelDir.resolve(MARKER_FILE), MARKER);
  }

  /** Whether {@code modelDir} carries the marker of {@link #writeMarker}. */
  public static boolean isMarked(Path modelDir) {
    return Files.isRegularFile(modelDir.resolve(MARKER_FILE));
  }

  /** Byte ids only: vocabulary 256, no end-of-sequence token. */
  public static ByteTextTokenizer plain() {
    return new ByteTextTokenizer(false);
  }

  /** Byte ids and end-of-sequence id 256: vocabulary 257, so the model needs an embedding row for it. */
  public static ByteTextTokenizer withEos() {
    return new ByteTextTokenizer(true);
  }

  @Override
  public int[] encodePrompt(String text) {
    return bytes(text);
  }

  @Override
  public int[] encodeResponse(String text) {
    return bytes(text);
  }

  /**
   * The UTF-8 text of the byte ids; ids {@code >= 256} (end of sequence) are dropped and invalid UTF-8, which a
   * sampled or truncated sequence may contain, decodes to U+FFFD instead of failing.
   */
  @Override
  public String decode(int[] ids) {
    byte[] bytes = new byte[ids.length];
    int n = 0;
    for (int id : ids) {
      if (id < 0) {
        throw new IllegalArgumentException("token id " + id + " is negative: byte ids are 0..255");
      }
      if (id < BYTE_VALUES) {
        bytes[n++] = (byte) id;
      }
    }
    return new String(bytes, 0, n, StandardCharsets.UTF_8);
  }

  @Override
  public int vocabSize() {
    return hasEos ? BYTE_VALUES + 1 : BYTE_VALUES;
  }

  @Override
  public OptionalInt eosId() {
    return hasEos ? OptionalInt.of(BYTE_VALUES) : OptionalInt.empty();
  }

  @Override
  public void close() {}

  @Override
  public String toString() {
    return hasEos ? "ByteTextTokenizer[bytes + EOS 256]" : "ByteTextTokenizer[bytes]";
  }

  private static int[] bytes(String text) {
    byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
    int[] ids = new int[utf8.length];
    for (int i = 0; i < utf8.length; i++) {
      ids[i] = Byte.toUnsignedInt(utf8[i]);
    }
    return ids;
  }
}
