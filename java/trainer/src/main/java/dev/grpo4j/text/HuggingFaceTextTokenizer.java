package dev.grpo4j.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * The fast tokenizer of a Hugging Face model folder ({@code tokenizer.json}), run by DJL's binding of the Rust
 * {@code tokenizers} library, which the DJL jar carries for the common platforms, so nothing is downloaded.
 *
 * <p>Prompts are encoded with the tokenizer's post-processor (the special tokens it adds around a sequence, such as
 * Llama's {@code <s>}), responses without it. Truncation and padding settings stored in {@code tokenizer.json}
 * are switched off: {@link PairEncoder} truncates pairs itself and batches are padded later.
 *
 * <p>The end-of-sequence token is the {@code eos_token} of {@code tokenizer_config.json} (a string or an object
 * with {@code content}); failing that, the first {@code eos_token_id} of {@code config.json}; failing that, none.
 *
 * <p>DJL reports usage over the network when it creates a tokenizer unless it is told it is offline, so loading
 * sets the system properties {@code ai.djl.offline} and {@code OPT_OUT_TRACKING} to {@code true} where they are
 * not set already.
 */
public final class HuggingFaceTextTokenizer implements TextTokenizer {
  private static final String TOKENIZER_JSON = "tokenizer.json";
  private static final String TOKENIZER_CONFIG_JSON = "tokenizer_config.json";
  private static final String CONFIG_JSON = "config.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path folder;
  private final HuggingFaceTokenizer tokenizer;
  private final int vocabSize;
  private final OptionalInt eosId;

  private HuggingFaceTextTokenizer(Path folder, HuggingFaceTokenizer tokenizer, int vocabSize, OptionalInt eosId) {
    this.folder = folder;
    this.tokenizer = tokenizer;
    this.vocabSize = vocabSize;
    this.eosId = eosId;
  }

  /**
   * Loads the tokenizer of a Hugging Face model folder.
   *
   * @param modelDir folder holding {@code tokenizer.json}, and optionally {@code tokenizer_config.json} and
   *     {@code config.json} for the end-of-sequence token
   * @return the tokenizer; close it when done
   * @throws IllegalArgumentException if the folder or its {@code tokenizer.json} is missing or cannot be read or
   *     parsed, or if the configured end-of-sequence token is not in the vocabulary
   */
  public static HuggingFaceTextTokenizer fromFolder(Path modelDir) {
    Objects.requireNonNull(modelDir, "modelDir");
    if (!Files.isDirectory(modelDir)) {
      throw new IllegalArgumentException("model folder " + modelDir + " does not exist or is not a folder: pass the "
          + "folder of a Hugging Face model, the one that holds " + TOKENIZER_JSON);
    }
    Path file = modelDir.resolve(TOKENIZER_JSON);
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("no " + TOKENIZER_JSON + " in model folder " + modelDir + ": grpo4j needs "
          + "the fast-tokenizer file; for a model that ships only a slow tokenizer (tokenizer.model, vocab.txt), "
          + "write one with transformers: AutoTokenizer.from_pretrained(folder).save_pretrained(folder)");
    }
    String text = readText(file);
    JsonNode root = parse(file, text);
    Vocabulary vocabulary = Vocabulary.of(file, root);
    OptionalInt eosId = eosId(modelDir, vocabulary);
    return new HuggingFaceTextTokenizer(modelDir, load(file, text), vocabulary.size(), eosId);
  }

  @Override
  public int[] encodePrompt(String text) {
    return ids(tokenizer.encode(text, true, false).getIds());
  }

  @Override
  public int[] encodeResponse(String text) {
    return ids(tokenizer.encode(text, false, false).getIds());
  }

  /** {@inheritDoc} Decoding follows the tokenizer's decoder (for byte-level BPE, bytes back to UTF-8). */
  @Override
  public String decode(int[] ids) {
    long[] longs = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= vocabSize) {
        throw new IllegalArgumentException("token id " + ids[i] + " at position " + i + " is outside the vocabulary "
            + "0.." + (vocabSize - 1) + " of " + folder.resolve(TOKENIZER_JSON));
      }
      longs[i] = ids[i];
    }
    return tokenizer.decode(longs, true);
  }

  @Override
  public int vocabSize() {
    return vocabSize;
  }

  @Override
  public OptionalInt eosId() {
    return eosId;
  }

  @Override
  public void close() {
    tokenizer.close();
  }

  @Override
  public String toString() {
    return "HuggingFaceTextTokenizer[" + folder + ", vocab " + vocabSize
        + (eosId.isPresent() ? ", EOS " + eosId.getAsInt() : ", no EOS") + "]";
  }

  private int[] ids(long[] ids) {
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      // An id past the vocabulary read from tokenizer.json means that reading missed part of its format.
      if (ids[i] < 0 || ids[i] >= vocabSize) {
        throw new IllegalStateException(folder.resolve(TOKENIZER_JSON) + " produced token id " + ids[i]
            + ", outside the vocabulary 0.." + (vocabSize - 1) + " found in that file");
      }
      out[i] = (int) ids[i];
    }
    return out;
  }

  private static HuggingFaceTokenizer load(Path file, String text) {
    keepDjlOffline();
    // The JSON text, not the folder, goes to DJL: given a folder, DJL would also apply tokenizer_config.json
    // (model_max_length truncation and other settings) that this class reads itself.
    Map<String, String> options = Map.of(
        "addSpecialTokens", "true",
        "withOverflowingTokens", "false",
        "truncation", "false",
        "padding", "false");
    try (InputStream in = new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8))) {
      return HuggingFaceTokenizer.newInstance(in, options);
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException("DJL's tokenizers library could not load " + file + ": " + e.getMessage()
          + " (is it a tokenizer.json written by Hugging Face tokenizers 0.21 or older?)", e);
    } catch (LinkageError e) {
      throw new IllegalStateException("DJL's native tokenizers library could not be loaded to read " + file
          + "; its jar carries it for linux-x86_64/aarch64, macOS aarch64 and Windows x86_64 only: " + e, e);
    }
  }

  /**
   * Before creating a tokenizer, DJL reports usage to Amazon (first asking the EC2 metadata address for the
   * instance) unless told it is offline; grpo4j never needs DJL's network access, so it is switched off here
   * unless the user already chose (DJL lets its environment variables win over these properties).
   */
  private static void keepDjlOffline() {
    setIfAbsent("ai.djl.offline", "true");
    setIfAbsent("OPT_OUT_TRACKING", "true");
  }

  private static void setIfAbsent(String property, String value) {
    if (System.getProperty(property) == null) {
      System.setProperty(property, value);
    }
  }

  private static OptionalInt eosId(Path modelDir, Vocabulary vocabulary) {
    Path tokenizerConfig = modelDir.resolve(TOKENIZER_CONFIG_JSON);
    if (Files.isRegularFile(tokenizerConfig)) {
      JsonNode eos = parse(tokenizerConfig, readText(tokenizerConfig)).path("eos_token");
      if (eos.isObject()) {
        eos = eos.path("content");
      }
      if (eos.isTextual()) {
        String token = eos.asText();
        return OptionalInt.of(vocabulary.id(token).orElseThrow(() -> new IllegalArgumentException(
            tokenizerConfig + " names eos_token \"" + token + "\" but " + modelDir.resolve(TOKENIZER_JSON)
                + " has no such token: the two files must come from the same model")));
      }
      if (!eos.isMissingNode() && !eos.isNull()) {
        throw new IllegalArgumentException(tokenizerConfig + ": eos_token must be a string or an object with a "
            + "\"content\" string, got " + eos);
      }
    }
    Path config = modelDir.resolve(CONFIG_JSON);
    if (Files.isRegularFile(config)) {
      JsonNode eos = parse(config, readText(config)).path("eos_token_id");
      // Models with several stop tokens (Llama 3) list them all; the first is the one training appends.
      if (eos.isArray()) {
        eos = eos.path(0);
      }
      if (eos.isIntegralNumber() && eos.canConvertToInt() && eos.asInt() >= 0 && eos.asInt() < vocabulary.size()) {
        return OptionalInt.of(eos.asInt());
      }
      if (!eos.isMissingNode() && !eos.isNull()) {
        throw new IllegalArgumentException(config + ": eos_token_id must be a token id in 0.."
            + (vocabulary.size() - 1) + " or a list of them, got " + eos);
      }
    }
    return OptionalInt.empty();
  }

  private static String readText(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalArgumentException("could not read " + file + ": " + e, e);
    }
  }

  private static JsonNode parse(Path file, String text) {
    try {
      return JSON.readTree(text);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(file + " is not valid JSON: " + e.getOriginalMessage(), e);
    }
  }

  /** The ids {@code tokenizer.json} defines: its model's vocabulary and the added tokens. */
  private record Vocabulary(JsonNode modelVocab, JsonNode addedTokens, int size) {
    static Vocabulary of(Path file, JsonNode root) {
      JsonNode vocab = root.path("model").path("vocab");
      long largest = -1;
      if (vocab.isObject()) {
        // WordLevel, WordPiece and BPE: {"token": id, ...}.
        for (JsonNode id : vocab) {
          largest = Math.max(largest, id.asLong(-1));
        }
      } else if (vocab.isArray()) {
        // Unigram: [["token", score], ...], the id being the position.
        largest = vocab.size() - 1L;
      } else {
        throw new IllegalArgumentException(file + " has no model.vocab (an object of token ids or a Unigram list), "
            + "so its vocabulary size is unknown; is it a Hugging Face tokenizer.json?");
      }
      JsonNode added = root.path("added_tokens");
      for (JsonNode token : added) {
        largest = Math.max(largest, token.path("id").asLong(-1));
      }
      if (largest < 0 || largest >= Integer.MAX_VALUE) {
        throw new IllegalArgumentException(file + ": vocabulary ids must lie in 0.." + (Integer.MAX_VALUE - 1)
            + ", and there must be at least one; the largest found is " + largest);
      }
      return new Vocabulary(vocab, added, (int) largest + 1);
    }

    /** The id of a token, added tokens first as the tokenizer itself matches them before the model. */
    OptionalInt id(String token) {
      for (JsonNode added : addedTokens) {
        if (token.equals(added.path("content").asText(null))) {
          return OptionalInt.of(added.path("id").asInt());
        }
      }
      if (modelVocab.isObject()) {
        JsonNode id = modelVocab.get(token);
        return id != null && id.canConvertToInt() ? OptionalInt.of(id.asInt()) : OptionalInt.empty();
      }
      Iterator<JsonNode> entries = modelVocab.elements();
      for (int id = 0; entries.hasNext(); id++) {
        if (token.equals(entries.next().path(0).asText(null))) {
          return OptionalInt.of(id);
        }
      }
      return OptionalInt.empty();
    }
  }
}
