package dev.grpo4j.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hand-written {@code tokenizer.json} files run through DJL: special tokens on prompts only, exact ids, decoding,
 * the end-of-sequence token from either config file, and errors that name the folder or file.
 */
class HuggingFaceTextTokenizerTest {
  /**
   * A word-level tokenizer that splits on whitespace and punctuation and, as Llama's does, puts {@code <s>} before
   * a sequence. Its file also asks for truncation to 3 tokens and padding to 8, which must both be ignored.
   * {@code <pad>} is an added token outside the model's vocabulary, so the vocabulary size is 10.
   */
  static final String WORD_LEVEL = """
      {
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": 3, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": 8}, "direction": "Right", "pad_to_multiple_of": null, "pad_id": 9,
                    "pad_type_id": 0, "pad_token": "<pad>"},
        "added_tokens": [
          {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false,
           "special": true},
          {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false,
           "special": true},
          {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false,
           "special": true},
          {"id": 9, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false,
           "special": true}
        ],
        "normalizer": null,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {
          "type": "TemplateProcessing",
          "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
          "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                   {"Sequence": {"id": "B", "type_id": 1}}],
          "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}
        },
        "decoder": null,
        "model": {
          "type": "WordLevel",
          "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "hello": 3, "world": 4, "the": 5, "cat": 6, "sat": 7, ".": 8},
          "unk_token": "<unk>"
        }
      }
      """;

  /**
   * A byte-level BPE tokenizer (GPT-2 style, no special tokens added to sequences): {@code Ġ} is the space byte,
   * {@code Ã©} the two bytes of {@code é}; {@code <|endoftext|>} is added as id 12.
   */
  static final String BYTE_LEVEL_BPE = """
      {
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [
          {"id": 12, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false,
           "normalized": false, "special": true}
        ],
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true},
        "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "model": {
          "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
          "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
          "vocab": {"h": 0, "e": 1, "l": 2, "o": 3, "Ġ": 4, "w": 5, "r": 6, "d": 7, "Ã": 8, "©": 9, "Ã©": 10,
                    "ll": 11},
          "merges": ["l l", "Ã ©"]
        }
      }
      """;

  @TempDir
  Path dir;

  private Path folder(String name, String tokenizerJson) throws IOException {
    Path folder = Files.createDirectories(dir.resolve(name));
    Files.writeString(folder.resolve("tokenizer.json"), tokenizerJson);
    return folder;
  }

  private Path wordLevel() throws IOException {
    Path folder = folder("word-level", WORD_LEVEL);
    Files.writeString(folder.resolve("tokenizer_config.json"),
        "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"model_max_length\": 2, \"add_bos_token\": true}");
    return folder;
  }

  @Test
  void promptsGetTheBosTokenAndResponsesDoNot() throws IOException {
    try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.fromFolder(wordLevel())) {
      assertArrayEquals(new int[] {1, 3, 4}, tokenizer.encodePrompt("hello world"));
      assertArrayEquals(new int[] {5, 6, 7, 8}, tokenizer.encodeResponse("the cat sat."));
      assertArrayEquals(new int[] {3, 0}, tokenizer.encodeResponse("hello dog"), "unknown word: <unk>");
    }
  }

  @Test
  void neitherTruncatesNorPads() throws IOException {
    try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.fromFolder(wordLevel())) {
      // tokenizer.json asks for 3 tokens, tokenizer_config.json for 2, padding to 8: all ignored.
      assertArrayEquals(new int[] {1, 5, 6, 7, 8, 3, 4, 5, 6},
          tokenizer.encodePrompt("the cat sat. hello world the cat"));
      assertArrayEquals(new int[] {3}, tokenizer.encodeResponse("hello"));
    }
  }

  @Test
  void decodeRoundTripsAndLeavesOutSpecialTokens() throws IOException {
    try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.fromFolder(wordLevel())) {
      assertEquals("hello world", tokenizer.decode(tokenizer.encodePrompt("hello world")));
      assertEquals("the cat sat .", tokenizer.decode(new int[] {5, 6, 7, 8, 2}), "EOS left out");
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> tokenizer.decode(new int[] {3, 10}));
      assertTrue(e.getMessage().contains("10") && e.getMessage().contains("0..9"), e.getMessage());
    }
  }

  @Test
  void vocabularySizeCountsAddedTokens() throws IOException {
    try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.fromFolder(wordLevel())) {
      assertEquals(10, tokenizer.vocabSize(), "model ids 0..8 and the added <pad> = 9");
    }
  }

  @Test
  void eosTokenFromTokenizerConfigAsStringOrObject() throws IOException {
    try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.fromFolder(wordLevel())) {
      assertEquals(OptionalInt.of(2), tokenizer.eosId());
    }
    Path folder = folder("object-eos", WORD_LEVEL);
    Files.writeString(folder.resolve("tokenizer_config.json"), "{\"eos_token\": {\"__type\": \"AddedToken\", "
        + "\"content\": \"<pad>\", \"lstrip\": false, \"normalized\": false, \"rstrip\": false, \"special\": true}}");
    // A config.json that disagrees: tokenizer_config.json wins.
    Files.writeString(folder.resolve("config.json"), "{\"eos_token_id\": 2}");
    try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.fromFolder(folder)) {
      assertEquals(OptionalInt.of(9), tokenizer.eosId());
    }
  }

  @Test
  void eosTokenIdFromConfigJsonAsIntegerOrList() throws IOException {
    Path single = folder("single", WORD_LEVEL);
    Files.writeString(single.resolve("config.json"), "{\"model_type\": \"llama\", \"eos_token_id\": 2}");
    try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.fromFolder(single)) {
      assertEquals(OptionalInt.of(2), tokenizer.eosId());
    }
    Path list = folder("list", WORD_LEVEL);
    Files.writeString(list.resolve("tokenizer_config.json"), "{\"eos_token\": null}");
    Files.writeString(list.resolve("config.json"), "{\"eos_token_id\": [9, 2]}");
    try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.fromFolder(list)) {
      assertEquals(OptionalInt.of(9), tokenizer.eosId(), "the first of the list");
    }
  }

  @Test
  void noEosWithoutConfigFiles() throws IOException {
    try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.fromFolder(folder("bare", WORD_LEVEL))) {
      assertEquals(OptionalInt.empty(), tokenizer.eosId());
    }
  }

  @Test
  void eosTokenMissingFromTheVocabularyIsAnError() throws IOException {
    Path folder = folder("wrong-eos", WORD_LEVEL);
    Files.writeString(folder.resolve("tokenizer_config.json"), "{\"eos_token\": \"<|im_end|>\"}");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> HuggingFaceTextTokenizer.fromFolder(folder));
    assertTrue(e.getMessage().contains("\"<|im_end|>\"") && e.getMessage().contains(folder.toString()),
        e.getMessage());
    Path outOfRange = folder("eos-out-of-range", WORD_LEVEL);
    Files.writeString(outOfRange.resolve("config.json"), "{\"eos_token_id\": 10}");
    assertThrows(IllegalArgumentException.class, () -> HuggingFaceTextTokenizer.fromFolder(outOfRange));
  }

  @Test
  void missingTokenizerJsonNamesTheFolder() throws IOException {
    Path folder = Files.createDirectories(dir.resolve("no-tokenizer"));
    Files.writeString(folder.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> HuggingFaceTextTokenizer.fromFolder(folder));
    assertTrue(e.getMessage().startsWith("no tokenizer.json in model folder " + folder), e.getMessage());
    IllegalArgumentException absent = assertThrows(IllegalArgumentException.class,
        () -> HuggingFaceTextTokenizer.fromFolder(dir.resolve("absent")));
    assertTrue(absent.getMessage().contains(dir.resolve("absent").toString()), absent.getMessage());
  }

  @Test
  void unparsableTokenizerJsonNamesTheFileAndKeepsTheCause() throws IOException {
    Path notJson = folder("not-json", "{\"model\": ");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> HuggingFaceTextTokenizer.fromFolder(notJson));
    assertTrue(e.getMessage().startsWith(notJson.resolve("tokenizer.json") + " is not valid JSON"), e.getMessage());

    Path unknownModel = folder("unknown-model", "{\"model\": {\"type\": \"Nonsense\", \"vocab\": {\"a\": 0}}}");
    IllegalArgumentException djl = assertThrows(IllegalArgumentException.class,
        () -> HuggingFaceTextTokenizer.fromFolder(unknownModel));
    assertTrue(djl.getMessage().contains(unknownModel.resolve("tokenizer.json").toString()), djl.getMessage());
    assertNotNull(djl.getCause(), "DJL's own error is kept as the cause");

    Path noVocab = folder("no-vocab", "{\"model\": {\"type\": \"WordLevel\"}}");
    assertThrows(IllegalArgumentException.class, () -> HuggingFaceTextTokenizer.fromFolder(noVocab));
  }

  @Test
  void byteLevelBpeRoundTripsNonAsciiText() throws IOException {
    Path folder = folder("bpe", BYTE_LEVEL_BPE);
    Files.writeString(folder.resolve("config.json"), "{\"eos_token_id\": 12}");
    try (HuggingFaceTextTokenizer tokenizer = HuggingFaceTextTokenizer.fromFolder(folder)) {
      int[] ids = {0, 10, 11, 3, 4, 5, 3, 6, 2, 7};
      assertArrayEquals(ids, tokenizer.encodePrompt("héllo world"), "no special tokens to add");
      assertArrayEquals(ids, tokenizer.encodeResponse("héllo world"));
      assertEquals("héllo world", tokenizer.decode(ids));
      assertEquals(13, tokenizer.vocabSize());
      assertEquals(OptionalInt.of(12), tokenizer.eosId());
      assertArrayEquals(new int[0], tokenizer.encodeResponse("x"), "no such byte, no unknown token: dropped");
    }
  }
}
