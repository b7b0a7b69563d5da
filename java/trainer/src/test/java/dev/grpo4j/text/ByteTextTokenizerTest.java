package dev.grpo4j.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/** UTF-8 byte ids, with and without an end-of-sequence id. */
class ByteTextTokenizerTest {
  @Test
  void encodesUtf8BytesAsUnsignedIds() {
    ByteTextTokenizer bytes = ByteTextTokenizer.plain();
    // 'n', 'a', 'ï' (C3 AF), 'v', 'e', ' ', '日' (E6 97 A5)
    int[] expected = {0x6E, 0x61, 0xC3, 0xAF, 0x76, 0x65, 0x20, 0xE6, 0x97, 0xA5};
    assertArrayEquals(expected, bytes.encodePrompt("naïve 日"));
    assertArrayEquals(expected, bytes.encodeResponse("naïve 日"), "no special tokens: prompt and response alike");
    assertEquals("naïve 日", bytes.decode(expected));
  }

  @Test
  void plainHasTheByteVocabularyAndNoEos() {
    ByteTextTokenizer bytes = ByteTextTokenizer.plain();
    assertEquals(256, bytes.vocabSize());
    assertEquals(OptionalInt.empty(), bytes.eosId());
  }

  @Test
  void withEosAddsId256AfterTheBytes() {
    ByteTextTokenizer bytes = ByteTextTokenizer.withEos();
    assertEquals(257, bytes.vocabSize());
    assertEquals(OptionalInt.of(256), bytes.eosId());
    assertArrayEquals(new int[] {0xC3, 0xA9}, bytes.encodeResponse("é"), "no EOS added by encoding itself");
    assertEquals("é!", bytes.decode(new int[] {0xC3, 0xA9, 0x21, 256}), "EOS is dropped when decoding");
  }

  @Test
  void decodesInvalidUtf8Leniently() {
    // A truncated sequence can end inside a multi-byte character.
    String text = ByteTextTokenizer.plain().decode(new int[] {0x61, 0xE6, 0x97});
    assertTrue(text.startsWith("a") && text.substring(1).chars().allMatch(c -> c == 0xFFFD), text);
  }

  @Test
  void refusesNegativeIds() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ByteTextTokenizer.plain().decode(new int[] {65, -1}));
    assertTrue(e.getMessage().contains("-1"), e.getMessage());
  }
}
