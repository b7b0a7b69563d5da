package dev.grpo4j.text;

import dev.grpo4j.torch.TokenPair;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * Turns text preference records into {@link TokenPair}s: the prompt and each response are tokenised separately
 * (the prompt with the tokenizer's special tokens, the responses without) and later concatenated by
 * {@link dev.grpo4j.torch.EncodedPairs}.
 *
 * <p>Over-long pairs are truncated as TRL's DPO trainer does: when the prompt plus the longer response exceed
 * {@link EncodeOptions#maxTotalTokens}, the prompt is first cut to {@link EncodeOptions#maxPromptTokens} keeping its
 * end (the tokens next to the response); if that is not enough, each response is cut at its end to fit beside the
 * prompt. An end-of-sequence token appended to a response is appended before truncation, so a cut response does not
 * claim to be complete.
 */
public final class PairEncoder {
  /**
   * How to encode and truncate pairs.
   *
   * @param maxPromptTokens longest prompt kept when a pair is too long, at least 1
   * @param maxTotalTokens longest prompt plus response, more than {@code maxPromptTokens}
   * @param appendEos append the tokenizer's end-of-sequence token to each response
   */
  public record EncodeOptions(int maxPromptTokens, int maxTotalTokens, boolean appendEos) {
    public EncodeOptions {
      if (maxPromptTokens < 1) {
        throw new IllegalArgumentException("maxPromptTokens = " + maxPromptTokens + ": must be >= 1");
      }
      if (maxTotalTokens <= maxPromptTokens) {
        throw new IllegalArgumentException("maxTotalTokens = " + maxTotalTokens + " must exceed maxPromptTokens = "
            + maxPromptTokens + " so that a truncated prompt leaves room for a response");
      }
    }
  }

  /**
   * Encoded pairs, how many had to be cut, and which are degenerate.
   *
   * @param pairs one pair per record, in record order
   * @param truncatedPairs pairs in which the prompt or a response was cut
   * @param truncatedPrompts pairs whose prompt was cut
   * @param truncatedResponses pairs with at least one response cut
   * @param degenerate pairs whose chosen and rejected responses encode to the same tokens, in record order
   */
  public record Encoded(List<TokenPair> pairs, int truncatedPairs, int truncatedPrompts, int truncatedResponses,
                        List<Degenerate> degenerate) {
    public Encoded {
      pairs = List.copyOf(pairs);
      degenerate = List.copyOf(degenerate);
    }
  }

  /**
   * A pair whose responses are the same tokens: its margin is 0 whatever the model does.
   *
   * @param line the record's line
   * @param why {@code "identical texts"}, {@code "the same tokens"} (different texts the tokenizer maps alike,
   *     e.g. both to unknown tokens) or {@code "the same tokens after truncation"}
   */
  public record Degenerate(long line, String why) {
    @Override
    public String toString() {
      return "line " + line + ": " + why;
    }
  }

  private final TextTokenizer tokenizer;
  private final GroupIndex groups;
  private final EncodeOptions options;
  private final int eos;

  /**
   * @param tokenizer encodes the texts
   * @param groups maps each record's group to its id
   * @param options lengths and end-of-sequence handling
   * @throws IllegalArgumentException if {@code appendEos} is set but the tokenizer has no end-of-sequence token
   */
  public PairEncoder(TextTokenizer tokenizer, GroupIndex groups, EncodeOptions options) {
    this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
    this.groups = Objects.requireNonNull(groups, "groups");
    this.options = Objects.requireNonNull(options, "options");
    OptionalInt eosId = tokenizer.eosId();
    if (options.appendEos() && eosId.isEmpty()) {
      throw new IllegalArgumentException("appendEos is set but " + tokenizer + " has no end-of-sequence token: "
          + "turn appendEos off, or use a tokenizer with one (eos_token in tokenizer_config.json or eos_token_id in "
          + "config.json; ByteTextTokenizer.withEos())");
    }
    this.eos = eosId.orElse(-1);
  }

  /**
   * Checks that a model can embed every id the tokenizer produces. A larger model vocabulary is fine (models
   * often round theirs up); a smaller one would index past the embedding table.
   *
   * @param tokenizer the tokenizer
   * @param modelVocab the model's vocabulary size (rows of its token embedding)
   * @throws IllegalArgumentException if the tokenizer's vocabulary is larger than the model's
   */
  public static void requireVocabFits(TextTokenizer tokenizer, long modelVocab) {
    if (modelVocab < 1) {
      throw new IllegalArgumentException("modelVocab = " + modelVocab + ": must be >= 1");
    }
    if (tokenizer.vocabSize() > modelVocab) {
      throw new IllegalArgumentException("tokenizer/model vocab mismatch: " + tokenizer + " produces ids up to "
          + (tokenizer.vocabSize() - 1) + " (vocabulary " + tokenizer.vocabSize() + ") but the model embeds only "
          + modelVocab + " tokens; use the tokenizer that belongs to the model");
    }
  }

  /**
   * Encodes all records.
   *
   * @throws IllegalArgumentException if a record's group is unknown or a prompt or response encodes to no tokens
   *     (the message names the record's line)
   */
  public Encoded encode(List<PreferenceRecord> records) {
    List<TokenPair> pairs = new ArrayList<>(records.size());
    int truncatedPairs = 0;
    int truncatedPrompts = 0;
    int truncatedResponses = 0;
    List<Degenerate> degenerate = new ArrayList<>();
    for (PreferenceRecord r : records) {
      int group = group(r);
      int[] prompt = tokens(r, "prompt", tokenizer.encodePrompt(r.prompt()));
      int[] chosen = withEos(tokens(r, "chosen", tokenizer.encodeResponse(r.chosen())));
      int[] rejected = withEos(tokens(r, "rejected", tokenizer.encodeResponse(r.rejected())));
      boolean promptCut = false;
      boolean responseCut = false;
      if (prompt.length + Math.max(chosen.length, rejected.length) > options.maxTotalTokens()) {
        if (prompt.length > options.maxPromptTokens()) {
          prompt = Arrays.copyOfRange(prompt, prompt.length - options.maxPromptTokens(), prompt.length);
          promptCut = true;
        }
        int room = options.maxTotalTokens() - prompt.length;
        if (chosen.length > room || rejected.length > room) {
          chosen = Arrays.copyOf(chosen, Math.min(chosen.length, room));
          rejected = Arrays.copyOf(rejected, Math.min(rejected.length, room));
          responseCut = true;
        }
      }
      truncatedPrompts += promptCut ? 1 : 0;
      truncatedResponses += responseCut ? 1 : 0;
      truncatedPairs += promptCut || responseCut ? 1 : 0;
      if (Arrays.equals(chosen, rejected)) {
        degenerate.add(new Degenerate(r.line(), r.chosen().equals(r.rejected()) ? "identical texts"
            : responseCut ? "the same tokens after truncation" : "the same tokens"));
      }
      pairs.add(new TokenPair(group, prompt, chosen, rejected));
    }
    return new Encoded(pairs, truncatedPairs, truncatedPrompts, truncatedResponses, degenerate);
  }

  private int group(PreferenceRecord r) {
    try {
      return groups.id(r.group());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("line " + r.line() + ": " + e.getMessage(), e);
    }
  }

  private int[] withEos(int[] ids) {
    if (!options.appendEos()) {
      return ids;
    }
    int[] withEos = Arrays.copyOf(ids, ids.length + 1);
    withEos[ids.length] = eos;
    return withEos;
  }

  private int[] tokens(PreferenceRecord r, String field, int[] ids) {
    if (ids.length == 0) {
      throw new IllegalArgumentException("line " + r.line() + ": the " + field + " encodes to no tokens with "
          + tokenizer + " (only characters the tokenizer drops?); every prompt and response needs at least one "
          + "token: fix or remove that record");
    }
    return ids;
  }
}
