package dev.grpo4j.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.text.PairEncoder.EncodeOptions;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/** Records to token pairs: separate tokenisation, TRL-style truncation, end-of-sequence tokens, vocabulary check. */
class PairEncoderTest {
  private static final GroupIndex GROUPS = GroupIndex.ofNames(List.of("a", "b"));

  /**
   * One token per lower-case letter ({@code a} = 2 ... {@code z} = 27), other characters dropped; prompts start
   * with BOS = 0 and EOS is 1, so prompt and response encodings differ as they do for Llama.
   */
  private static final class LetterTokenizer implements TextTokenizer {
    @Override
    public int[] encodePrompt(String text) {
      int[] letters = encodeResponse(text);
      int[] ids = new int[letters.length + 1];
      System.arraycopy(letters, 0, ids, 1, letters.length);
      return ids;
    }

    @Override
    public int[] encodeResponse(String text) {
      return text.chars().filter(c -> c >= 'a' && c <= 'z').map(c -> c - 'a' + 2).toArray();
    }

    @Override
    public String decode(int[] ids) {
      StringBuilder text = new StringBuilder();
      for (int id : ids) {
        if (id >= 2) {
          text.append((char) ('a' + id - 2));
        }
      }
      return text.toString();
    }

    @Override
    public int vocabSize() {
      return 28;
    }

    @Override
    public OptionalInt eosId() {
      return OptionalInt.of(1);
    }

    @Override
    public void close() {}

    @Override
    public String toString() {
      return "LetterTokenizer";
    }
  }

  private static PreferenceRecord record(String prompt, String chosen, String rejected, long line) {
    return PreferenceRecord.ofText(prompt, chosen, rejected, "b", line);
  }

  private static int[] bytes(String text) {
    return ByteTextTokenizer.plain().encodeResponse(text);
  }

  private static PairEncoder.Encoded encode(TextTokenizer tokenizer, EncodeOptions options, PreferenceRecord... r) {
    return new PairEncoder(tokenizer, GROUPS, options).encode(List.of(r));
  }

  @Test
  void tokenisesPromptAndResponsesSeparately() {
    PairEncoder.Encoded encoded = encode(new LetterTokenizer(), new EncodeOptions(8, 16, false),
        record("hi", "yes", "no", 1));
    TokenPair pair = encoded.pairs().getFirst();
    assertEquals(1, pair.group(), "group \"b\"");
    assertArrayEquals(new int[] {0, 9, 10}, pair.prompt(), "BOS, h, i");
    assertArrayEquals(new int[] {26, 6, 20}, pair.chosen(), "y, e, s without BOS");
    assertArrayEquals(new int[] {15, 16}, pair.rejected());
    assertEquals(0, encoded.truncatedPairs());
  }

  @Test
  void pairsThatFitExactlyAreKept() {
    PairEncoder.Encoded encoded = encode(ByteTextTokenizer.plain(), new EncodeOptions(2, 10, false),
        record("abcdefg", "123", "12", 1));
    assertArrayEquals(bytes("abcdefg"), encoded.pairs().getFirst().prompt(), "7 + 3 = 10: no cut");
    assertEquals(0, encoded.truncatedPairs());
  }

  @Test
  void tooLongPairCutsThePromptKeepingItsEnd() {
    PairEncoder.Encoded encoded = encode(ByteTextTokenizer.plain(), new EncodeOptions(4, 10, false),
        record("abcdefgh", "12", "xyz", 1));
    TokenPair pair = encoded.pairs().getFirst();
    assertArrayEquals(bytes("efgh"), pair.prompt(), "8 + 3 > 10: prompt cut to its last 4 tokens");
    assertArrayEquals(bytes("12"), pair.chosen());
    assertArrayEquals(bytes("xyz"), pair.rejected());
    assertEquals(1, encoded.truncatedPairs());
    assertEquals(1, encoded.truncatedPrompts());
    assertEquals(0, encoded.truncatedResponses());
  }

  @Test
  void thenResponsesAreCutAtTheirEnd() {
    PairEncoder.Encoded encoded = encode(ByteTextTokenizer.plain(), new EncodeOptions(4, 10, false),
        record("abcdefgh", "123456789", "xyz", 1));
    TokenPair pair = encoded.pairs().getFirst();
    assertArrayEquals(bytes("efgh"), pair.prompt());
    assertArrayEquals(bytes("123456"), pair.chosen(), "10 - 4 = 6 tokens of room");
    assertArrayEquals(bytes("xyz"), pair.rejected(), "short enough: untouched");
    assertEquals(1, encoded.truncatedPairs());
    assertEquals(1, encoded.truncatedPrompts());
    assertEquals(1, encoded.truncatedResponses());
  }

  @Test
  void shortPromptLeavesMoreRoomForTheResponses() {
    PairEncoder.Encoded encoded = encode(ByteTextTokenizer.plain(), new EncodeOptions(4, 10, false),
        record("ab", "123456789abc", "uvwxyz0123", 1));
    TokenPair pair = encoded.pairs().getFirst();
    assertArrayEquals(bytes("ab"), pair.prompt(), "within maxPromptTokens: not cut");
    assertArrayEquals(bytes("12345678"), pair.chosen());
    assertArrayEquals(bytes("uvwxyz01"), pair.rejected());
    assertEquals(0, encoded.truncatedPrompts());
    assertEquals(1, encoded.truncatedResponses());
  }

  @Test
  void cuttingThePromptMayDropItsBosAsTrlDoes() {
    TokenPair pair = encode(new LetterTokenizer(), new EncodeOptions(2, 5, false), record("abc", "xyz", "x", 1))
        .pairs().getFirst();
    assertArrayEquals(new int[] {3, 4}, pair.prompt(), "BOS a b c -> b c");
    assertArrayEquals(new int[] {25, 26, 27}, pair.chosen());
  }

  @Test
  void truncationIsCountedPerPair() {
    PairEncoder.Encoded encoded = encode(ByteTextTokenizer.plain(), new EncodeOptions(2, 6, false),
        record("ab", "cd", "ef", 1), record("abcdef", "g", "h", 2), record("a", "bcdefgh", "i", 3));
    assertEquals(3, encoded.pairs().size());
    assertEquals(2, encoded.truncatedPairs());
    assertEquals(1, encoded.truncatedPrompts());
    assertEquals(1, encoded.truncatedResponses());
  }

  @Test
  void appendsEosToEachResponseBeforeTruncating() {
    PairEncoder.Encoded encoded = encode(ByteTextTokenizer.withEos(), new EncodeOptions(4, 8, true),
        record("ab", "cd", "efghijk", 1));
    TokenPair pair = encoded.pairs().getFirst();
    assertArrayEquals(bytes("ab"), pair.prompt(), "no EOS on the prompt");
    assertArrayEquals(new int[] {'c', 'd', 256}, pair.chosen());
    assertArrayEquals(bytes("efghij"), pair.rejected(), "cut response: its EOS is cut too, as in TRL");
    assertEquals(1, encoded.truncatedResponses());
  }

  @Test
  void appendEosNeedsAnEosToken() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new PairEncoder(ByteTextTokenizer.plain(), GROUPS, new EncodeOptions(4, 8, true)));
    assertTrue(e.getMessage().startsWith("appendEos is set but ByteTextTokenizer[bytes] has no end-of-sequence"),
        e.getMessage());
    assertDoesNotThrow(() -> new PairEncoder(ByteTextTokenizer.plain(), GROUPS, new EncodeOptions(4, 8, false)));
  }

  @Test
  void textThatEncodesToNoTokensNamesTheLine() {
    PairEncoder encoder = new PairEncoder(new LetterTokenizer(), GROUPS, new EncodeOptions(8, 16, true));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> encoder.encode(List.of(record("ok", "fine", "good", 4), record("ok", "fine", "123!", 9))));
    assertTrue(e.getMessage().startsWith("line 9: the rejected encodes to no tokens"), e.getMessage());
  }

  @Test
  void unknownGroupNamesTheLine() {
    PairEncoder encoder = new PairEncoder(ByteTextTokenizer.plain(), GROUPS, new EncodeOptions(8, 16, false));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> encoder.encode(List.of(PreferenceRecord.ofText("p", "c", "r", "zz", 12))));
    assertTrue(e.getMessage().startsWith("line 12: unknown group \"zz\""), e.getMessage());
  }

  @Test
  void optionsNeedRoomForAResponse() {
    assertThrows(IllegalArgumentException.class, () -> new EncodeOptions(0, 8, false));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new EncodeOptions(8, 8, false));
    assertTrue(e.getMessage().contains("maxTotalTokens = 8 must exceed maxPromptTokens = 8"), e.getMessage());
  }

  @Test
  void vocabularyMustFitTheModel() {
    assertDoesNotThrow(() -> PairEncoder.requireVocabFits(ByteTextTokenizer.plain(), 256));
    assertDoesNotThrow(() -> PairEncoder.requireVocabFits(new LetterTokenizer(), 32_000), "a larger model is fine");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PairEncoder.requireVocabFits(ByteTextTokenizer.withEos(), 256));
    assertTrue(e.getMessage().startsWith("tokenizer/model vocab mismatch")
        && e.getMessage().contains("257") && e.getMessage().contains("256"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> PairEncoder.requireVocabFits(new LetterTokenizer(), 0));
  }
}
