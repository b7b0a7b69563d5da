package dev.grpo4j.text;

import java.util.OptionalInt;

/**
 * Text to token ids and back, as a causal language model reads them.
 *
 * <p>Prompts and responses are encoded separately: a prompt gets the tokenizer's own special tokens (for example
 * Llama's beginning-of-sequence token), a response gets none because it is appended after its prompt.
 */
public interface TextTokenizer extends AutoCloseable {
  /**
   * Token ids of a prompt, with the special tokens the tokenizer adds at the start of a sequence.
   *
   * @param text the prompt
   * @return its ids, each in {@code [0, vocabSize())}
   */
  int[] encodePrompt(String text);

  /**
   * Token ids of a response, without special tokens: it continues a prompt.
   *
   * @param text the response
   * @return its ids, each in {@code [0, vocabSize())}
   */
  int[] encodeResponse(String text);

  /**
   * Text of token ids; special tokens (beginning and end of sequence, padding) are left out.
   *
   * @param ids token ids
   * @return the text they stand for
   * @throws IllegalArgumentException if an id is one the tokenizer cannot decode (negative, or beyond its
   *     vocabulary where that is not simply dropped)
   */
  String decode(int[] ids);

  /**
   * Number of token ids this tokenizer can produce: its largest id (added tokens included) plus one. A model that
   * reads its output needs at least this many embedding rows.
   */
  int vocabSize();

  /** The end-of-sequence token id, if the tokenizer has one. */
  OptionalInt eosId();

  /** Releases native resources, if any; the tokenizer must not be used afterwards. */
  @Override
  void close();
}
