package dev.grpo4j.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Real chat templates rendered by {@link ChatTemplate} against what transformers 5.17 renders for the same
 * messages (resources {@code dev/grpo4j/chat/goldens.json}, written by {@code render_goldens.py} beside it, which
 * also says where each template comes from): Qwen2.5-Instruct, Llama-3-Instruct and Gemma (no system role), plus
 * Llama 3.2, Qwen3, Phi-3, Gemma 3, DeepSeek-R1-Distill and a training template with {@code {% generation %}}.
 */
class ChatTemplateGoldenTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final JsonNode GOLDENS = read("goldens.json");

  static JsonNode read(String resource) {
    try (InputStream in = ChatTemplateGoldenTest.class.getResourceAsStream(resource)) {
      return JSON.readTree(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String templateSource(String name) {
    try (InputStream in = ChatTemplateGoldenTest.class.getResourceAsStream("templates/" + name + ".jinja")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static ChatTemplate template(String name) {
    Map<String, String> tokens = JSON.convertValue(GOLDENS.get("tokens").get(name), Map.class);
    return ChatTemplate.of(templateSource(name), name + ".jinja", tokens);
  }

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> messages(JsonNode node) {
    return JSON.convertValue(node, List.class);
  }

  static Stream<Arguments> renderings() {
    return GOLDENS.get("renderings").valueStream().map(r -> Arguments.of(r.get("template").asText(),
        r.get("conversation").asText(), r.get("add_generation_prompt").asBoolean(), r));
  }

  @ParameterizedTest(name = "{0}: {1}, generation prompt {2}")
  @MethodSource("renderings")
  void rendersAsTransformersDoes(String name, String conversation, boolean generation, JsonNode expected) {
    ChatTemplate template = template(name);
    List<Map<String, Object>> messages = messages(GOLDENS.get("conversations").get(conversation));
    Map<String, Object> variables = JSON.convertValue(expected.get("variables"), Map.class);
    if (expected.has("error")) {
      ChatTemplateException e = assertThrows(ChatTemplateException.class,
          () -> template.render(messages, generation, variables));
      assertTrue(e.getMessage().contains(expected.get("error").asText()), e.getMessage());
      assertTrue(e.getMessage().startsWith(name + ".jinja"), e.getMessage());
      return;
    }
    assertEquals(expected.get("text").asText(), template.render(messages, generation, variables));
  }
}
