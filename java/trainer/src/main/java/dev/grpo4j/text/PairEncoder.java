package dev.grpo4j.text;

import dev.grpo4j.chat.ChatTemplate;
import dev.grpo4j.chat.ChatTemplateException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * Turns preference records into {@link TokenPair}s, later concatenated by {@link dev.grpo4j.torch.EncodedPairs}.
 *
 * <p>Text records: the prompt and each response are tokenised separately, the prompt with the tokenizer's special
 * tokens, the responses without.
 *
 * <p>Conversational records, as TRL's DPO trainer tokenises them: the chat template renders the prompt messages with
 * the generation prompt, and the prompt followed by each response without it; the three texts are tokenised without
 * special tokens (the template writes those itself, {@code bos_token} included), and each response is the part of
 * its full tokenisation after the prompt's tokens. Should the prompt's tokens not be a prefix of a full
 * tokenisation (a template that renders a prompt differently once a reply follows, or a merge across the
 * boundary), the split is made in the text instead, at the longest common prefix of the three renderings, as TRL's
 * {@code apply_chat_template} does; {@link Encoded#textSplits} counts those pairs. No end-of-sequence token is added
 * beyond what the template writes, unless {@link EncodeOptions#appendEos}.
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
   * @param textSplits conversational pairs split at the text rather than at the prompt's tokens
   */
  public record Encoded(List<TokenPair> pairs, int truncatedPairs, int truncatedPrompts, int truncatedResponses,
                        List<Degenerate> degenerate, int textSplits) {
    public Encoded {
      pairs = List.copyOf(pairs);
      degenerate = List.copyOf(degenerate);
    }
  }

  /**
   * A pair whose responses are the same tokens: its margin is 0 whatever the model does.
   *
   * @param line the record's line
   * @param why {@code "identical responses"}, {@code "the same tokens"} (different texts the tokenizer maps alike,
   *     e.g. both to unknown tokens) or {@code "the same tokens after truncation"}
   */
  public record Degenerate(long line, String why) {
    @Override
    public String toString() {
      return "line " + line + ": " + why;
    }
  }

  /**
   * The texts TRL's {@code apply_chat_template} makes of a conversational pair.
   *
   * @param prompt the rendered prompt, generation prompt included
   * @param chosen the rest of the rendered prompt and chosen response
   * @param rejected the rest of the rendered prompt and rejected response
   */
  public record TemplatedTexts(String prompt, String chosen, String rejected) {}

  private final TextTokenizer tokenizer;
  private final ChatTemplate template;
  private final GroupIndex groups;
  private final EncodeOptions options;
  private final int eos;
  private int textSplits;

  /**
   * @param tokenizer encodes the texts
   * @param groups maps each record's group to its id
   * @param options lengths and end-of-sequence handling
   * @throws IllegalArgumentException if {@code appendEos} is set but the tokenizer has no end-of-sequence token
   */
  public PairEncoder(TextTokenizer tokenizer, GroupIndex groups, EncodeOptions options) {
    this(tokenizer, null, groups, options);
  }

  /**
   * An encoder for conversational records as well.
   *
   * @param template the chat template that renders messages, or null if the records are text
   * @see #PairEncoder(TextTokenizer, GroupIndex, EncodeOptions)
   */
  public PairEncoder(TextTokenizer tokenizer, ChatTemplate template, GroupIndex groups, EncodeOptions options) {
    this.template = template;
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
    textSplits = 0;
    for (PreferenceRecord r : records) {
      int group = group(r);
      int[][] ids = r.conversational() ? templated(r) : new int[][] {tokenizer.encodePrompt(text(r.prompt())),
          tokenizer.encodeResponse(text(r.chosen())), tokenizer.encodeResponse(text(r.rejected()))};
      int[] prompt = tokens(r, "prompt", ids[0]);
      int[] chosen = withEos(tokens(r, "chosen", ids[1]));
      int[] rejected = withEos(tokens(r, "rejected", ids[2]));
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
        degenerate.add(new Degenerate(r.line(), r.chosen().equals(r.rejected()) ? "identical responses"
            : responseCut ? "the same tokens after truncation" : "the same tokens"));
      }
      pairs.add(new TokenPair(group, prompt, chosen, rejected));
    }
    return new Encoded(pairs, truncatedPairs, truncatedPrompts, truncatedResponses, degenerate, textSplits);
  }

  /**
   * Renders a conversational pair as TRL's {@code apply_chat_template} does: the prompt with the generation prompt,
   * then the prompt followed by each response; the prompt is the longest common prefix of the three texts, each
   * response the rest of its text.
   *
   * @throws ChatTemplateException if the template fails or refuses the messages
   */
  public static TemplatedTexts applyTemplate(ChatTemplate template, Content.Messages prompt, Content.Messages chosen,
                                             Content.Messages rejected) {
    String promptText = template.render(prompt.messages(), true);
    String chosenText = template.render(prompt.then(chosen).messages(), false);
    String rejectedText = template.render(prompt.then(rejected).messages(), false);
    int shared = Math.min(commonPrefix(promptText, chosenText), commonPrefix(promptText, rejectedText));
    return new TemplatedTexts(promptText.substring(0, shared), chosenText.substring(shared),
        rejectedText.substring(shared));
  }

  private int[][] templated(PreferenceRecord r) {
    if (template == null) {
      throw new IllegalArgumentException("line " + r.line() + ": the record is chat messages, which need a chat "
          + "template, and none was given: use a model folder with a chat template, or pass --chat-template");
    }
    Content.Messages prompt = (Content.Messages) r.prompt();
    Content.Messages chosen = (Content.Messages) r.chosen();
    Content.Messages rejected = (Content.Messages) r.rejected();
    try {
      String promptText = template.render(prompt.messages(), true);
      int[] promptIds = tokenizer.encodeResponse(promptText);
      int[] chosenIds = tokenizer.encodeResponse(template.render(prompt.then(chosen).messages(), false));
      int[] rejectedIds = tokenizer.encodeResponse(template.render(prompt.then(rejected).messages(), false));
      if (startsWith(chosenIds, promptIds) && startsWith(rejectedIds, promptIds)) {
        return new int[][] {promptIds, Arrays.copyOfRange(chosenIds, promptIds.length, chosenIds.length),
            Arrays.copyOfRange(rejectedIds, promptIds.length, rejectedIds.length)};
      }
      textSplits++;
      TemplatedTexts texts = applyTemplate(template, prompt, chosen, rejected);
      return new int[][] {tokenizer.encodeResponse(texts.prompt()), tokenizer.encodeResponse(texts.chosen()),
          tokenizer.encodeResponse(texts.rejected())};
    } catch (ChatTemplateException e) {
      throw new IllegalArgumentException("line " + r.line() + ": " + e.getMessage(), e);
    }
  }

  private static String text(Content content) {
    return ((Content.Text) content).text();
  }

  private static boolean startsWith(int[] ids, int[] prefix) {
    return ids.length >= prefix.length && Arrays.equals(ids, 0, prefix.length, prefix, 0, prefix.length);
  }

  private static int commonPrefix(String a, String b) {
    int n = Math.min(a.length(), b.length());
    int i = 0;
    while (i < n && a.charAt(i) == b.charAt(i)) {
      i++;
    }
    // Python compares code points: never split a surrogate pair.
    return i > 0 && Character.isHighSurrogate(a.charAt(i - 1)) ? i - 1 : i;
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
