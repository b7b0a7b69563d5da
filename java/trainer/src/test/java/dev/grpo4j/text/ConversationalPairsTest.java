package dev.grpo4j.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.grpo4j.chat.ChatTemplate;
import dev.grpo4j.chat.ChatTemplateException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Conversational pairs become what TRL 1.13 makes of them (resources {@code dev/grpo4j/chat/goldens.json}, written
 * by {@code render_goldens.py} with TRL itself): the prompt/response texts of its {@code apply_chat_template} for
 * each real template, and the token ids of its DPO trainer's tokenisation for a tokenizer saved by transformers.
 */
class ConversationalPairsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final JsonNode GOLDENS = read("goldens.json");

  @TempDir
  Path tmp;

  private static JsonNode read(String name) {
    try (InputStream in = ConversationalPairsTest.class.getResourceAsStream("/dev/grpo4j/chat/" + name)) {
      return JSON.readTree(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String resource(String name) {
    try (InputStream in = ConversationalPairsTest.class.getResourceAsStream("/dev/grpo4j/chat/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @SuppressWarnings("unchecked")
  private static Content.Messages messages(JsonNode node) {
    return new Content.Messages(JSON.convertValue(node, List.class));
  }

  private static PreferenceRecord record(JsonNode example, String group, long line) {
    return new PreferenceRecord(messages(example.get("prompt")), messages(example.get("chosen")),
        messages(example.get("rejected")), group, line);
  }

  static Stream<Arguments> splits() {
    return GOLDENS.get("splits").valueStream().map(s -> Arguments.of(s.get("template").asText(),
        s.get("example").asText(), s));
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("splits")
  @SuppressWarnings("unchecked")
  void textsSplitAsTrlsApplyChatTemplate(String name, String example, JsonNode expected) {
    Map<String, String> tokens = JSON.convertValue(GOLDENS.get("tokens").get(name), Map.class);
    ChatTemplate template = ChatTemplate.of(resource("templates/" + name + ".jinja"), name, tokens)
        .withVariables(JSON.convertValue(expected.get("variables"), Map.class));
    JsonNode pair = GOLDENS.get("preferences").get(example);
    if (expected.has("error")) {
      ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> PairEncoder.applyTemplate(template,
          messages(pair.get("prompt")), messages(pair.get("chosen")), messages(pair.get("rejected"))));
      assertTrue(e.getMessage().contains(expected.get("error").asText()), e.getMessage());
      return;
    }
    PairEncoder.TemplatedTexts texts = PairEncoder.applyTemplate(template, messages(pair.get("prompt")),
        messages(pair.get("chosen")), messages(pair.get("rejected")));
    JsonNode want = expected.get("text");
    assertEquals(want.get("prompt").asText(), texts.prompt());
    assertEquals(want.get("chosen").asText(), texts.chosen());
    assertEquals(want.get("rejected").asText(), texts.rejected());
  }

  @Test
  void tokenIdsAreThoseOfTrlsDpoTrainer() throws IOException {
    Path folder = tmp.resolve("model");
    Files.createDirectories(folder);
    for (String file : List.of("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")) {
      Files.writeString(folder.resolve(file), resource("tokenizer/" + file));
    }
    List<PreferenceRecord> records = new ArrayList<>();
    for (JsonNode golden : GOLDENS.get("token_ids")) {
      records.add(record(GOLDENS.get("preferences").get(golden.get("example").asText()), "g", records.size() + 1));
    }
    ChatTemplate template = ChatTemplate.fromModelFolder(folder).orElseThrow();
    try (TextTokenizer tokenizer = HuggingFaceTextTokenizer.fromFolder(folder)) {
      PairEncoder encoder = new PairEncoder(tokenizer, template, GroupIndex.of(records),
          new PairEncoder.EncodeOptions(512, 1024, false));
      PairEncoder.Encoded encoded = encoder.encode(records);
      assertEquals(0, encoded.textSplits());
      for (int i = 0; i < records.size(); i++) {
        JsonNode golden = GOLDENS.get("token_ids").get(i);
        TokenPair pair = encoded.pairs().get(i);
        assertArrayEquals(JSON.convertValue(golden.get("prompt"), int[].class), pair.prompt(), "prompt " + i);
        assertArrayEquals(JSON.convertValue(golden.get("chosen"), int[].class), pair.chosen(), "chosen " + i);
        assertArrayEquals(JSON.convertValue(golden.get("rejected"), int[].class), pair.rejected(), "rejected " + i);
      }
      // --append-eos adds the end-of-sequence token after the template's own <|im_end|>\n, as asked.
      PairEncoder.Encoded withEos = new PairEncoder(tokenizer, template, GroupIndex.of(records),
          new PairEncoder.EncodeOptions(512, 1024, true)).encode(records);
      int[] chosen = withEos.pairs().getFirst().chosen();
      assertEquals(tokenizer.eosId().getAsInt(), chosen[chosen.length - 1]);
    }
  }

  @Test
  void aPromptThatRendersDifferentlyOnceARepliesFollowIsSplitInTheText() {
    // Like DeepSeek-R1's: the generation prompt opens a block the full conversation does not have.
    ChatTemplate template = ChatTemplate.of("{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
        + "{% if add_generation_prompt %}<assistant><think>{% endif %}", "t", Map.of());
    PreferenceRecord r = new PreferenceRecord(
        new Content.Messages(List.of(Map.of("role", "user", "content", "q"))),
        new Content.Messages(List.of(Map.of("role", "assistant", "content", "yes"))),
        new Content.Messages(List.of(Map.of("role", "assistant", "content", "no"))), "g", 1);
    PairEncoder.TemplatedTexts texts = PairEncoder.applyTemplate(template, (Content.Messages) r.prompt(),
        (Content.Messages) r.chosen(), (Content.Messages) r.rejected());
    assertEquals(new PairEncoder.TemplatedTexts("<user>q<assistant>", "yes", "no"), texts);
    PairEncoder.Encoded encoded = new PairEncoder(ByteTextTokenizer.plain(), template, GroupIndex.of(List.of(r)),
        new PairEncoder.EncodeOptions(64, 128, false)).encode(List.of(r));
    assertEquals(1, encoded.textSplits());
    TokenPair pair = encoded.pairs().getFirst();
    assertEquals("<user>q<assistant>", new String(toBytes(pair.prompt()), StandardCharsets.UTF_8));
    assertEquals("yes", new String(toBytes(pair.chosen()), StandardCharsets.UTF_8));
    assertEquals("no", new String(toBytes(pair.rejected()), StandardCharsets.UTF_8));
  }

  @Test
  void conversationalRecordsNeedATemplateAndTheTemplateMayRefuseThem() {
    PreferenceRecord r = record(GOLDENS.get("preferences").get("system and two turns"), "g", 7);
    PairEncoder noTemplate = new PairEncoder(ByteTextTokenizer.plain(), GroupIndex.of(List.of(r)),
        new PairEncoder.EncodeOptions(64, 128, false));
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
        () -> noTemplate.encode(List.of(r)));
    assertTrue(missing.getMessage().startsWith("line 7: the record is chat messages"), missing.getMessage());

    ChatTemplate gemma = ChatTemplate.of(resource("templates/gemma.jinja"), "gemma.jinja",
        Map.of("bos_token", "<bos>"));
    PairEncoder encoder = new PairEncoder(ByteTextTokenizer.plain(), gemma, GroupIndex.of(List.of(r)),
        new PairEncoder.EncodeOptions(64, 128, false));
    IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> encoder.encode(List.of(r)));
    assertTrue(refused.getMessage().startsWith("line 7: gemma.jinja line 1: the template refused the messages: "
        + "System role not supported"), refused.getMessage());
  }

  private static byte[] toBytes(int[] ids) {
    byte[] bytes = new byte[ids.length];
    for (int i = 0; i < ids.length; i++) {
      bytes[i] = (byte) ids[i];
    }
    return bytes;
  }
}
