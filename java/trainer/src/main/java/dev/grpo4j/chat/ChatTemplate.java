package dev.grpo4j.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.interpret.AutoCloseableSupplier;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.interpret.errorcategory.BasicTemplateErrorCategory;
import com.hubspot.jinjava.tree.Node;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A model's chat template, rendered as transformers' {@code apply_chat_template} renders it: jinja2 with
 * {@code trim_blocks} and {@code lstrip_blocks}, the variables {@code messages}, {@code add_generation_prompt},
 * {@code tools} and {@code documents} (both none) and the tokenizer's special tokens ({@code bos_token},
 * {@code eos_token}, ...), the functions {@code raise_exception} and {@code strftime_now}, transformers' {@code tojson}
 * filter and the {@code {% generation %}} tag of training templates.
 *
 * <p>The engine is Jinjava, with the differences from jinja2 that chat templates run into smoothed over (Python
 * string methods, {@code not x is defined}, keyword arguments with operators, {@code [::-1]}; see
 * {@link TemplateRewriter}). A template that needs something Jinjava does not provide fails with a
 * {@link ChatTemplateException} naming the template line, never with a silently different text.
 *
 * <p>Not thread-safe: one instance renders one conversation at a time.
 */
public final class ChatTemplate {
  /** The file transformers 4.47 and later save a model's template in, beside {@code tokenizer_config.json}. */
  public static final String TEMPLATE_FILE = "chat_template.jinja";
  /** The tokenizer settings file that holds the template in older model folders, under {@code chat_template}. */
  public static final String TOKENIZER_CONFIG = "tokenizer_config.json";

  /**
   * Generic ChatML ({@code <|im_start|>role\ncontent<|im_end|>\n}), the format transformers once used for models
   * without a template of their own; for models, such as grpo4j's built-in ones, that were never taught any.
   */
  public static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' "
      + "+ message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
      + "{{ '<|im_start|>assistant\n' }}{% endif %}";

  private static final String SPECIAL_TOKENS_MAP = "special_tokens_map.json";
  private static final List<String> SPECIAL_TOKENS =
      List.of("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final String origin;
  private final String source;
  private final Map<String, String> specialTokens;
  private final Map<String, Object> variables;
  private final Jinjava jinjava;
  private final Node root;

  private ChatTemplate(ChatTemplate parsed, Map<String, ?> variables) {
    this.origin = parsed.origin;
    this.source = parsed.source;
    this.specialTokens = parsed.specialTokens;
    this.variables = Map.copyOf(variables);
    this.jinjava = parsed.jinjava;
    this.root = parsed.root;
  }

  private ChatTemplate(String origin, String source, Map<String, String> specialTokens) {
    this.origin = origin;
    this.source = source;
    this.specialTokens = Map.copyOf(specialTokens);
    this.variables = Map.of();
    this.jinjava = JinjaEnvironment.create();
    TemplateRewriter.Rewritten rewritten = TemplateRewriter.rewrite(source, origin);
    for (TemplateRewriter.NameUse use : rewritten.uses()) {
      Context global = jinjava.getGlobalContext();
      boolean known = use.kind().equals("filter") ? global.getFilter(use.name()) != null
          : global.getExpTest(use.name()) != null;
      if (!known) {
        throw new ChatTemplateException(origin, use.line(), "the " + use.kind() + " \"" + use.name() + "\" is not "
            + "one grpo4j's Jinja engine (Jinjava) has" + quote(use.line()) + "; pass a simplified copy of the "
            + "template with --chat-template FILE");
      }
    }
    JinjavaInterpreter parser = jinjava.newInterpreter();
    this.root = parser.parse(rewritten.text());
    failOnErrors(parser.getErrors(), null);
  }

  /**
   * A template given as text.
   *
   * @param source the Jinja text
   * @param origin where it came from, for messages
   * @param specialTokens values of {@code bos_token}, {@code eos_token}, ... as the template sees them
   * @throws ChatTemplateException if the template does not parse or uses what is not supported, naming the line
   */
  public static ChatTemplate of(String source, String origin, Map<String, String> specialTokens) {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(origin, "origin");
    Objects.requireNonNull(specialTokens, "specialTokens");
    if (source.isBlank()) {
      throw new ChatTemplateException(origin, 0, "the chat template is empty");
    }
    requireText(source, origin);
    return new ChatTemplate(origin, source, specialTokens);
  }

  /**
   * Refuses what cannot be Jinja text, before the engine parses it into something else: NUL bytes (a binary file),
   * or a block opened with {@code {{}, {@code {%} or {@code {#} and never closed, which would swallow the rest.
   */
  private static void requireText(String source, String origin) {
    if (source.indexOf('\0') >= 0) {
      throw new ChatTemplateException(origin, 0, "is not a text file (it holds NUL bytes): a chat template is Jinja "
          + "text, such as a model's " + TEMPLATE_FILE);
    }
    String[][] delimiters = {{"{{", "}}"}, {"{%", "%}"}, {"{#", "#}"}};
    for (String[] pair : delimiters) {
      for (int at = source.indexOf(pair[0]); at >= 0; at = source.indexOf(pair[0], at + 2)) {
        int end = source.indexOf(pair[1], at + 2);
        if (end < 0) {
          int line = (int) source.substring(0, at).chars().filter(c -> c == '\n').count() + 1;
          throw new ChatTemplateException(origin, line, "`" + pair[0] + "` is never closed with `" + pair[1] + "`"
              + quote(source, line));
        }
        at = end;
      }
    }
  }

  /**
   * The template of a Hugging Face model folder, looked up as transformers does: {@value #TEMPLATE_FILE} if present,
   * else the {@code chat_template} of {@value #TOKENIZER_CONFIG} (a string, or a list of named templates of which
   * {@code default} is taken). Special tokens come from {@value #TOKENIZER_CONFIG}, then
   * {@code special_tokens_map.json}.
   *
   * @return the template, or empty if the folder has none (a base model, typically)
   * @throws ChatTemplateException if a template is there but unreadable or unsupported
   */
  public static Optional<ChatTemplate> fromModelFolder(Path folder) {
    Path file = folder.resolve(TEMPLATE_FILE);
    if (Files.isRegularFile(file)) {
      return Optional.of(of(read(file), file.toString(), specialTokens(folder)));
    }
    Path config = folder.resolve(TOKENIZER_CONFIG);
    if (!Files.isRegularFile(config)) {
      return Optional.empty();
    }
    JsonNode template = parse(config).path("chat_template");
    if (template.isMissingNode() || template.isNull()) {
      return Optional.empty();
    }
    String origin = config + " (chat_template)";
    if (template.isTextual()) {
      return Optional.of(of(template.textValue(), origin, specialTokens(folder)));
    }
    if (template.isArray()) {
      List<String> names = new ArrayList<>();
      for (JsonNode named : template) {
        String name = named.path("name").asText("");
        names.add(name);
        if (name.equals("default") && named.path("template").isTextual()) {
          return Optional.of(of(named.path("template").textValue(), config + " (chat_template \"default\")",
              specialTokens(folder)));
        }
      }
      throw new ChatTemplateException(origin, 0, "holds several templates " + names + " and none is named "
          + "\"default\"; pass the one to use with --chat-template FILE");
    }
    throw new ChatTemplateException(origin, 0, "chat_template must be a string or a list of {name, template}, got "
        + template.getNodeType().toString().toLowerCase(java.util.Locale.ROOT));
  }

  /**
   * The generic {@link #CHATML} template.
   *
   * @param tokenFolder the folder whose {@value #TOKENIZER_CONFIG} names the special tokens, or null for none
   */
  public static ChatTemplate chatml(Path tokenFolder) {
    return of(CHATML, "the built-in ChatML template", tokenFolder == null ? Map.of() : specialTokens(tokenFolder));
  }

  /**
   * A template file given on its own ({@code --chat-template}), with the special tokens of a model folder.
   *
   * @param tokenFolder the folder whose {@value #TOKENIZER_CONFIG} names the special tokens, or null for none
   */
  public static ChatTemplate fromFile(Path file, Path tokenFolder) {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("--chat-template " + file + ": no such file (expected a Jinja chat "
          + "template, such as a model's chat_template.jinja)");
    }
    return of(read(file), file.toString(), tokenFolder == null ? Map.of() : specialTokens(tokenFolder));
  }

  /**
   * Renders a conversation.
   *
   * @param messages the messages, each a map with at least {@code role} and {@code content}, passed to the template
   *     as they are
   * @param addGenerationPrompt whether the template should append the header that opens the assistant's turn
   * @return the text
   * @throws ChatTemplateException if the template fails or refuses the messages, naming the line
   */
  public String render(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt) {
    return render(messages, addGenerationPrompt, Map.of());
  }

  /**
   * Renders a conversation with extra template variables, as transformers passes its keyword arguments (such as
   * {@code enable_thinking} for Qwen3 or {@code date_string} for Llama 3.x); they override the special tokens.
   *
   * @see #render(List, boolean)
   */
  public String render(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt,
                       Map<String, ?> variables) {
    Map<String, Object> bindings = new HashMap<>(specialTokens);
    bindings.putAll(this.variables);
    bindings.putAll(variables);
    bindings.put("messages", messages);
    bindings.put("add_generation_prompt", addGenerationPrompt);
    bindings.put("tools", null);
    bindings.put("documents", null);
    // jinja2 sees these functions as defined variables; templates test `strftime_now is defined`.
    bindings.put("raise_exception", Boolean.TRUE);
    bindings.put("strftime_now", Boolean.TRUE);
    JinjavaInterpreter interpreter =
        new JinjavaInterpreter(jinjava, new Context(jinjava.getGlobalContext(), bindings), jinjava.getGlobalConfig());
    String text;
    try (AutoCloseableSupplier.AutoCloseableImpl<JinjavaInterpreter> current =
             JinjavaInterpreter.closeablePushCurrent(interpreter).get()) {
      text = current.value().render(root);
    } catch (RuntimeException e) {
      JinjaEnvironment.Refused refused = refusal(e);
      if (refused != null) {
        throw new ChatTemplateException(origin, 0, "the template refused the messages: " + refused.getMessage());
      }
      throw new ChatTemplateException(origin, 0, "rendering failed: " + e.getMessage(), e);
    }
    failOnErrors(interpreter.getErrors(), messages);
    return text;
  }

  /**
   * This template with extra variables for every rendering, as transformers passes {@code apply_chat_template}'s
   * keyword arguments ({@code enable_thinking=False} for Qwen3, {@code date_string} for Llama 3.x); they replace
   * any given before and override the special tokens.
   */
  public ChatTemplate withVariables(Map<String, ?> variables) {
    return new ChatTemplate(this, variables);
  }

  /**
   * Refuses a template whose output does not depend on the messages (it never prints their content), naming it,
   * before it turns a data set into pairs: it would otherwise surface later as a problem of the data ("the chosen
   * response encodes to no tokens"). Binary files and unclosed blocks are refused when the template is made.
   *
   * @return this template
   * @throws ChatTemplateException naming the template
   */
  public ChatTemplate requireUsable() {
    List<Map<String, String>> first = List.of(Map.of("role", "user", "content", "grpo4j probe 1"),
        Map.of("role", "assistant", "content", "grpo4j answer 1"));
    List<Map<String, String>> second = List.of(Map.of("role", "user", "content", "grpo4j probe 2"),
        Map.of("role", "assistant", "content", "grpo4j answer 2"));
    String one;
    String two;
    try {
      one = render(first, false);
      two = render(second, false);
    } catch (ChatTemplateException refused) {
      // A template may refuse a plain user/assistant exchange (it wants a system message, say): no verdict then.
      return this;
    }
    if (one.equals(two)) {
      throw new ChatTemplateException(origin, 0, "renders every conversation alike (`" + abbreviate(one) + "`): it "
          + "never prints the messages' content, so it is no chat template");
    }
    return this;
  }

  private static String abbreviate(String text) {
    String line = text.replace("\n", "\\n");
    return line.length() > 60 ? line.substring(0, 57) + "..." : line;
  }

  /** The variables of {@link #withVariables}. */
  public Map<String, Object> variables() {
    return variables;
  }

  /** Where the template came from. */
  public String origin() {
    return origin;
  }

  /** The template text as read. */
  public String source() {
    return source;
  }

  /** The special tokens the template sees, by variable name. */
  public Map<String, String> specialTokens() {
    return specialTokens;
  }

  @Override
  public String toString() {
    return "ChatTemplate[" + origin + "]";
  }

  private void failOnErrors(List<TemplateError> errors, List<? extends Map<String, ?>> messages) {
    for (TemplateError error : errors) {
      int line = Math.max(0, error.getLineno());
      boolean tooDeep = error.getCategory() == BasicTemplateErrorCategory.CYCLE_DETECTED
          || error.getException() != null && cause(error.getException(), StackOverflowError.class) != null;
      if (tooDeep) {
        throw new ChatTemplateException(origin, line, "maximum recursion depth exceeded" + quote(line) + ": a macro "
            + "calls itself without end, or more than " + JinjaEnvironment.MAX_MACRO_NESTING + " calls deep (jinja2, "
            + "which transformers renders templates with, raises RecursionError here too)");
      }
      if (error.getSeverity() != TemplateError.ErrorType.FATAL) {
        continue;
      }
      JinjaEnvironment.Refused refused = error.getException() == null ? null : refusal(error.getException());
      if (refused != null) {
        throw new ChatTemplateException(origin, line, "the template refused the messages: " + refused.getMessage()
            + (messages == null ? "" : " (roles " + roles(messages) + ")"));
      }
      JinjaEnvironment.Jinja2Error jinja2 = error.getException() == null ? null
          : cause(error.getException(), JinjaEnvironment.Jinja2Error.class);
      if (jinja2 != null) {
        throw new ChatTemplateException(origin, line, jinja2.getMessage() + quote(line) + " (jinja2, which "
            + "transformers renders templates with, fails here too)");
      }
      throw new ChatTemplateException(origin, line, error.getMessage() + quote(line)
          + ": the template needs something grpo4j's Jinja engine (Jinjava) does not support; pass a simplified "
          + "copy with --chat-template FILE");
    }
  }

  private String quote(int line) {
    return quote(source, line);
  }

  private static String quote(String source, int line) {
    if (line <= 0) {
      return "";
    }
    String[] lines = source.replace("\r\n", "\n").split("\n", -1);
    if (line > lines.length) {
      return "";
    }
    String text = lines[line - 1].strip();
    return " (in `" + (text.length() > 120 ? text.substring(0, 117) + "..." : text) + "`)";
  }

  private static List<Object> roles(List<? extends Map<String, ?>> messages) {
    return messages.stream().map(m -> (Object) m.get("role")).toList();
  }

  private static JinjaEnvironment.Refused refusal(Throwable e) {
    return cause(e, JinjaEnvironment.Refused.class);
  }

  private static <T extends Throwable> T cause(Throwable e, Class<T> type) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (type.isInstance(t)) {
        return type.cast(t);
      }
    }
    return null;
  }

  private static Map<String, String> specialTokens(Path folder) {
    Map<String, String> tokens = new LinkedHashMap<>();
    for (String file : List.of(TOKENIZER_CONFIG, SPECIAL_TOKENS_MAP)) {
      Path path = folder.resolve(file);
      if (!Files.isRegularFile(path)) {
        continue;
      }
      JsonNode root = parse(path);
      for (String name : SPECIAL_TOKENS) {
        JsonNode value = root.path(name);
        if (value.isObject()) {
          value = value.path("content");
        }
        if (value.isTextual() && !tokens.containsKey(name)) {
          tokens.put(name, value.textValue());
        }
      }
    }
    return tokens;
  }

  private static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (java.nio.charset.CharacterCodingException e) {
      throw new IllegalArgumentException(file + " is not UTF-8 text: a chat template (or tokenizer_config.json) is "
          + "text, such as a model's " + TEMPLATE_FILE, e);
    } catch (IOException e) {
      throw new IllegalArgumentException("could not read " + file + ": " + e, e);
    }
  }

  private static JsonNode parse(Path file) {
    try {
      return JSON.readTree(read(file));
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(file + " is not valid JSON: " + e.getOriginalMessage(), e);
    }
  }
}
