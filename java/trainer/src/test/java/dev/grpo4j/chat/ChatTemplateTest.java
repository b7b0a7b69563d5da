package dev.grpo4j.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where templates come from in a model folder, what jinja2 does that Jinjava needs help with (each expected text is
 * what jinja2 3.1.6 renders for the same template; {@code render_goldens.py} beside the goldens runs the full
 * templates), and errors that name the template line.
 */
class ChatTemplateTest {
  @TempDir
  Path tmp;

  private static final List<Map<String, Object>> HI = List.of(Map.of("role", "user", "content", "Hi"));

  private static String render(String template, Map<String, ?> variables) {
    return ChatTemplate.of(template, "t.jinja", Map.of("eos_token", "</s>")).render(HI, false, variables);
  }

  private static String render(String template) {
    return render(template, Map.of());
  }

  @Test
  void aModelFolderTemplateFileWinsOverTheTokenizerConfig() throws IOException {
    Files.writeString(tmp.resolve("tokenizer_config.json"), """
        {"chat_template": "config:{{ messages[0].content }}", "bos_token": {"content": "<s>", "lstrip": false},
         "eos_token": "</s>"}
        """);
    ChatTemplate fromConfig = ChatTemplate.fromModelFolder(tmp).orElseThrow();
    assertEquals("config:Hi", fromConfig.render(HI, false));
    assertEquals(Map.of("bos_token", "<s>", "eos_token", "</s>"), fromConfig.specialTokens());

    Files.writeString(tmp.resolve("chat_template.jinja"), "file:{{ bos_token }}{{ messages[0].content }}\n");
    ChatTemplate fromFile = ChatTemplate.fromModelFolder(tmp).orElseThrow();
    assertEquals("file:<s>Hi", fromFile.render(HI, false), "and jinja2 drops the file's trailing newline");
    assertEquals(tmp.resolve("chat_template.jinja").toString(), fromFile.origin());
  }

  @Test
  void aTemplateThatCannotBeAChatTemplateIsRefusedByItsNameAndLine(@TempDir Path dir) throws IOException {
    Path unclosed = Files.writeString(dir.resolve("unclosed.jinja"),
        "{% for m in messages %}\n{{ m.content }}\n{{ m.role \n{% endfor %}");
    ChatTemplateException open = assertThrows(ChatTemplateException.class,
        () -> ChatTemplate.fromFile(unclosed, null).requireUsable());
    assertTrue(open.getMessage().startsWith(unclosed + " line 3: `{{` is never closed with `}}`"), open.getMessage());
    Path constant = Files.writeString(dir.resolve("constant.jinja"), "<|assistant|>\n");
    ChatTemplateException alike = assertThrows(ChatTemplateException.class,
        () -> ChatTemplate.fromFile(constant, null).requireUsable());
    assertTrue(alike.getMessage().startsWith(constant + ": renders every conversation alike"), alike.getMessage());
    Path binary = Files.write(dir.resolve("binary.jinja"), new byte[] {'{', '{', 0, 1, 2, '}', '}'});
    ChatTemplateException nul = assertThrows(ChatTemplateException.class,
        () -> ChatTemplate.fromFile(binary, null).requireUsable());
    assertTrue(nul.getMessage().contains("is not a text file"), nul.getMessage());
    Path latin1 = Files.write(dir.resolve("latin1.jinja"), new byte[] {'{', '{', (byte) 0xE9, '}', '}'});
    IllegalArgumentException notUtf8 = assertThrows(IllegalArgumentException.class,
        () -> ChatTemplate.fromFile(latin1, null));
    assertTrue(notUtf8.getMessage().contains("is not UTF-8 text"), notUtf8.getMessage());
    ChatTemplate chatml = ChatTemplate.of(ChatTemplate.CHATML, "chatml", Map.of());
    assertEquals(chatml, chatml.requireUsable());
    ChatTemplate systemFirst = ChatTemplate.of("{% if messages[0].role != 'system' %}{{ raise_exception('system "
        + "first') }}{% endif %}{{ messages[0].content }}", "strict", Map.of());
    assertEquals(systemFirst, systemFirst.requireUsable(), "a template that refuses the probe gets no verdict");
  }

  @Test
  void rangeAndMacroRecursionBehaveAsInJinja2sSandbox() {
    // Outputs and messages of jinja2 3.1.6's ImmutableSandboxedEnvironment, which transformers renders with.
    assertEquals("5000", render("{{ range(5000) | length }}"));
    assertEquals("2,5,8|5,3,1|0", render("{{ range(2, 11, 3) | join(',') }}|{{ range(5, 0, -2) | join(',') }}|"
        + "{{ range(0) | length }}"));
    ChatTemplateException tooBig = assertThrows(ChatTemplateException.class,
        () -> render("{{ range(200000) | length }}"));
    assertTrue(tooBig.getMessage().contains("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000)"),
        tooBig.getMessage());
    String countdown = "{% macro f(n) %}{% if n > 0 %}x{{ f(n - 1) }}{% endif %}{% endmacro %}";
    assertEquals("x".repeat(150), render(countdown + "{{ f(150) }}"));
    assertEquals("x".repeat(197), render(countdown + "{{ f(197) }}"), "198 nested calls, jinja2's most");
    ChatTemplateException deep = assertThrows(ChatTemplateException.class,
        () -> render(countdown + "\n{{ f(198) }}"));
    assertTrue(deep.getMessage().contains("maximum recursion depth exceeded"), deep.getMessage());
    ChatTemplateException endless = assertThrows(ChatTemplateException.class,
        () -> render("{% macro g() %}{{ g() }}{% endmacro %}{{ g() }}"));
    assertTrue(endless.getMessage().contains("maximum recursion depth exceeded"), endless.getMessage());
  }

  @Test
  void anAttributeOfAnUndefinedValueFailsAsInJinja2() {
    // What jinja2 3.1.6's ImmutableSandboxedEnvironment renders or raises, with m = {"a": {"b": 1}}, n = None,
    // l = [1, 2], s = "str".
    Map<String, Object> values = new java.util.HashMap<>(Map.of("m", Map.of("a", Map.of("b", 1)), "l", List.of(1, 2),
        "s", "str"));
    values.put("n", null);
    Map<String, String> renders = new java.util.LinkedHashMap<>();
    renders.put("{{ m.missing }}", "");
    renders.put("{{ n.x }}", "");
    renders.put("{{ l[5] }}", "");
    renders.put("{{ l[-1] }}", "2");
    renders.put("{{ s.x }}", "");
    renders.put("{{ m.a.b.c }}", "");
    renders.put("{{ m.missing | default('x') }}", "x");
    renders.put("{{ m.a.b }}|{{ m['a']['b'] }}|{{ (m.a).b }}", "1|1|1");
    renders.put("{{ nothing is defined }}|{{ m.missing is defined }}|{{ m.a is defined }}", "false|false|true");
    renders.put("{% for x in l %}{{ x }}{{ loop.index }}{% endfor %}", "1122");
    for (Map.Entry<String, String> expected : renders.entrySet()) {
      assertEquals(expected.getValue(), render(expected.getKey(), values), expected.getKey());
    }
    Map<String, String> raises = new java.util.LinkedHashMap<>();
    raises.put("{{ nothing.attr }}", "'nothing' is undefined");
    raises.put("{{ nothing['a'] }}", "'nothing' is undefined");
    raises.put("{{ m.missing.deeper }}", "'dict object' has no attribute 'missing'");
    raises.put("{{ m['missing']['d'] }}", "'dict object' has no attribute 'missing'");
    raises.put("{{ (m.missing).d }}", "'dict object' has no attribute 'missing'");
    raises.put("{{ m.a.missing.d }}", "'dict object' has no attribute 'missing'");
    raises.put("{{ n.x.y }}", "'None' has no attribute 'x'");
    raises.put("{{ l[5].x }}", "list object has no element 5");
    raises.put("{{ s.x.y }}", "'str object' has no attribute 'x'");
    raises.put("{{ nothing.attr is defined }}", "'nothing' is undefined");
    raises.put("{{ m.missing.d | default('x') }}", "'dict object' has no attribute 'missing'");
    raises.put("\n{% if m.missing.d %}y{% endif %}", "'dict object' has no attribute 'missing'");
    raises.put("{{ loop.x }}", "'loop' is undefined");
    for (Map.Entry<String, String> expected : raises.entrySet()) {
      ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> render(expected.getKey(), values),
          expected.getKey());
      assertTrue(e.getMessage().contains(expected.getValue() + " (in `"), expected.getKey() + ": " + e.getMessage());
      assertTrue(e.getMessage().contains("jinja2, which transformers renders templates with, fails here too"),
          e.getMessage());
    }
    ChatTemplateException second = assertThrows(ChatTemplateException.class,
        () -> render("a\n\n{{ m.missing.d }}", values));
    assertEquals(3, second.line(), second.getMessage());
  }

  @Test
  void namedTemplatesTakeTheDefaultOrSayWhichExist() throws IOException {
    Files.writeString(tmp.resolve("tokenizer_config.json"), """
        {"chat_template": [{"name": "tool_use", "template": "tools"}, {"name": "default", "template": "plain"}]}
        """);
    assertEquals("plain", ChatTemplate.fromModelFolder(tmp).orElseThrow().render(HI, false));
    Files.writeString(tmp.resolve("tokenizer_config.json"), """
        {"chat_template": [{"name": "tool_use", "template": "tools"}, {"name": "rag", "template": "rag"}]}
        """);
    ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> ChatTemplate.fromModelFolder(tmp));
    assertTrue(e.getMessage().contains("[tool_use, rag]") && e.getMessage().contains("--chat-template"),
        e.getMessage());
    Files.writeString(tmp.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
    assertTrue(ChatTemplate.fromModelFolder(tmp).isEmpty(), "a base model has no template");
  }

  @Test
  void pythonStringMethodsAndIndexing() {
    assertEquals("a|b| c", render("{{ ' a '.strip() }}|{{ 'xbx'.strip('x') }}|{{ ' c '.rstrip() }}"));
    assertEquals("True|False|True", render("{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith('x') }}|"
        + "{{ 'abc'.endswith(('x', 'c')) }}").replace("true", "True").replace("false", "False"));
    assertEquals("answer|['a', 'b', 'c']|['a', 'b,c']",
        render("{{ '<think>x</think>answer'.split('</think>')[-1] }}|{{ 'a b  c'.split() }}|"
            + "{{ 'a,b,c'.split(',', 1) }}"));
    assertEquals("User|USER|Two Words|H|i", render("{{ 'user'.capitalize() }}|{{ 'user'.upper() }}|"
        + "{{ 'two words'.title() }}|{{ messages[0].content[0] }}|{{ messages[0].content[-1] }}"));
  }

  @Test
  void jinjaPrecedenceAsJinja2ReadsIt() {
    assertEquals("yes", render("{% if not nothing is defined %}yes{% endif %}"));
    assertEquals("", render("{% if not messages is defined %}yes{% endif %}"), "not (messages is defined)");
    assertEquals("2", render("{% set ns = namespace(last=messages|length + 1) %}{{ ns.last }}"));
    assertEquals("c,b,a", render("{{ ['a', 'b', 'c'][::-1]|join(',') }}"));
    assertEquals("Hi", render("{% for m in messages[::-1] %}{{ m.content }}{% endfor %}"));
    assertEquals("x", render("{{ 'x' if messages else 'y' }}"), "an inline if is not a loop filter");
  }

  @Test
  void tojsonWritesWhatPythonsJsonDumpsWrites() {
    Map<String, Object> call = new java.util.LinkedHashMap<>();
    call.put("city", "Zürich");
    call.put("days", 2);
    call.put("ratio", 0.5);
    call.put("tiny", 1e-5);
    call.put("flags", List.of(true, false));
    call.put("none", null);
    assertEquals("{\"city\": \"Zürich\", \"days\": 2, \"ratio\": 0.5, \"tiny\": 1e-05, \"flags\": [true, false], "
        + "\"none\": null}", render("{{ call | tojson }}", Map.of("call", call)));
    assertEquals("{\n  \"a\": [\n    1\n  ]\n}",
        render("{{ x | tojson(indent=2) }}", Map.of("x", Map.of("a", List.of(1)))));
    assertEquals("{\"b\":\"\\u00e9\"}", render("{{ x | tojson(separators=(',', ':'), ensure_ascii=true) }}",
        Map.of("x", Map.of("b", "é"))));
  }

  @Test
  void generationTagsRenderTheirContent() {
    assertEquals("<a>Hi</a>", render("{% for m in messages %}<a>{% generation %}{{ m.content }}{% endgeneration %}"
        + "</a>{% endfor %}"));
  }

  @Test
  void errorsNameTheTemplateLine() {
    ChatTemplateException syntax = assertThrows(ChatTemplateException.class,
        () -> ChatTemplate.of("line one\n{{ messages[0].content }}\n{% if x %}never closed", "bad.jinja", Map.of()));
    assertTrue(syntax.getMessage().startsWith("bad.jinja line 3: "), syntax.getMessage());
    assertEquals(3, syntax.line());

    ChatTemplateException loopFilter = assertThrows(ChatTemplateException.class,
        () -> ChatTemplate.of("a\n{% for m in messages if m.role == 'user' %}{{ m.content }}{% endfor %}",
            "filter.jinja", Map.of()));
    assertTrue(loopFilter.getMessage().startsWith("filter.jinja line 2: a loop filter"), loopFilter.getMessage());

    ChatTemplateException step = assertThrows(ChatTemplateException.class,
        () -> ChatTemplate.of("{{ messages[::2] }}", "step.jinja", Map.of()));
    assertTrue(step.getMessage().contains("step other than [::-1]"), step.getMessage());

    ChatTemplate refusing = ChatTemplate.of("{% if messages[0].role != 'system' %}\n"
        + "{{ raise_exception('A system message must come first') }}\n{% endif %}", "strict.jinja", Map.of());
    ChatTemplateException refused = assertThrows(ChatTemplateException.class, () -> refusing.render(HI, true));
    assertTrue(refused.getMessage().startsWith("strict.jinja line 1: the template refused the messages: A system "
        + "message must come first (roles [user])"), refused.getMessage() + ": the line of the block that raised");

    ChatTemplateException unknownFilter = assertThrows(ChatTemplateException.class,
        () -> ChatTemplate.of("\n{{ messages | frobnicate }}", "f.jinja", Map.of()));
    assertTrue(unknownFilter.getMessage().startsWith("f.jinja line 2: the filter \"frobnicate\" is not one"),
        unknownFilter.getMessage());
    assertTrue(unknownFilter.getMessage().contains("--chat-template FILE"), unknownFilter.getMessage());
    ChatTemplateException unknownTest = assertThrows(ChatTemplateException.class,
        () -> ChatTemplate.of("{% if messages is not frobby %}x{% endif %}", "t.jinja", Map.of()));
    assertTrue(unknownTest.getMessage().startsWith("t.jinja line 1: the test \"frobby\""), unknownTest.getMessage());
    ChatTemplateException unknownMethod = assertThrows(ChatTemplateException.class,
        () -> ChatTemplate.of("{{ messages.frobnicate() }}", "m.jinja", Map.of()).render(HI, false));
    assertTrue(unknownMethod.getMessage().startsWith("m.jinja line 1: "), unknownMethod.getMessage());
  }

  @Test
  void theBuiltInChatmlTemplate() {
    assertEquals("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", ChatTemplate.chatml(null).render(HI, true));
  }
}
