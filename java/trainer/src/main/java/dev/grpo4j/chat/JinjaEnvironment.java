package dev.grpo4j.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.exptest.ExpTest;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.objects.date.StrftimeFormatter;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import jinjava.javax.el.CompositeELResolver;

/**
 * The Jinja environment chat templates render in: Jinjava configured to behave as transformers' jinja2 sandbox
 * (trimmed blocks, Python's operators, strings and containers), with transformers' globals ({@code raise_exception},
 * {@code strftime_now}), jinja2's {@code range} limits, the {@code tojson} and {@code items} filters, the
 * {@code iterable} and {@code sequence} tests and the {@code generation} tag. The functions are public because
 * Jinjava calls them by reflection.
 */
public final class JinjaEnvironment {
  private JinjaEnvironment() {}

  /** jinja2's sandbox (transformers renders in one) refuses a range() of more items than this. */
  static final int MAX_RANGE = 100_000;
  /**
   * Nested macro calls allowed, as many as jinja2 manages: it has no limit of its own, but each call takes five Python
   * frames and Python's recursion limit (1,000) stops a bare countdown macro at 198 nested calls with a
   * RecursionError (jinja2 3.1.6, Python 3.11; transformers' own frames only lower that). One call deeper fails here
   * the same way. Jinjava by default refuses recursive macros, and past its limit renders nothing more without a
   * word; both are overridden.
   */
  static final int MAX_MACRO_NESTING = 198;

  /** A Jinjava engine set up to render as transformers' jinja2 sandbox does. */
  static Jinjava create() {
    JinjavaConfig config = JinjavaConfig.newBuilder()
        .withTrimBlocks(true)
        .withLstripBlocks(true)
        .withKeepTrailingNewline(true)
        .withLegacyOverrides(LegacyOverrides.newBuilder()
            .withUseNaturalOperatorPrecedence(true)
            .withParseWhitespaceControlStrictly(true)
            .withUsePyishObjectMapper(true)
            .withKeepNullableLoopValues(true)
            .withHandleBackslashInQuotesOnly(true)
            .withUseTrimmingForNotesAndExpressions(true)
            .build())
        .withElResolver(pythonResolver())
        .withEnableRecursiveMacroCalls(true)
        // Jinjava's depth counts one more than the nested calls.
        .withMaxMacroRecursionDepth(MAX_MACRO_NESTING + 1)
        .withRangeLimit(MAX_RANGE)
        .build();
    Jinjava jinjava = UndefinedAttributes.engine(config);
    Context global = jinjava.getGlobalContext();
    global.registerFunction(new ELFunctionDefinition("", "raise_exception", JinjaEnvironment.class, "raiseException",
        Object.class));
    global.registerFunction(new ELFunctionDefinition("", "strftime_now", JinjaEnvironment.class, "strftimeNow",
        String.class));
    global.registerFunction(new ELFunctionDefinition("", "range", JinjaEnvironment.class, "range", Object.class,
        Object[].class));
    global.registerFilter(new TojsonFilter());
    global.registerFilter(new ItemsFilter());
    global.registerTag(new GenerationTag());
    global.registerExpTest(new PythonContainerTest("iterable"));
    global.registerExpTest(new PythonContainerTest("sequence"));
    return jinjava;
  }

  private static CompositeELResolver pythonResolver() {
    CompositeELResolver resolver = new CompositeELResolver();
    resolver.add(new PythonStrings());
    resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
    return resolver;
  }

  /** {@code raise_exception(message)}: the template's way of refusing a conversation. */
  public static Object raiseException(Object message) {
    throw new Refused(String.valueOf(message));
  }

  /**
   * Python's {@code range(stop)}, {@code range(start, stop)}, {@code range(start, stop, step)}, refused as jinja2's
   * sandbox refuses it beyond {@value #MAX_RANGE} items; Jinjava's own cuts the list short without a word.
   */
  public static List<Long> range(Object first, Object... more) {
    if (more.length > 2) {
      throw new Jinja2Error("range expected at most 3 arguments, got " + (1 + more.length));
    }
    long start = more.length == 0 ? 0 : whole(first);
    long stop = more.length == 0 ? whole(first) : whole(more[0]);
    long step = more.length == 2 ? whole(more[1]) : 1;
    if (step == 0) {
      throw new Jinja2Error("range() arg 3 must not be zero");
    }
    long count = step > 0 ? Math.max(0, Math.ceilDiv(stop - start, step))
        : Math.max(0, Math.ceilDiv(start - stop, -step));
    if (count > MAX_RANGE) {
      throw new Jinja2Error("Range too big. The sandbox blocks ranges larger than MAX_RANGE (" + MAX_RANGE + ")");
    }
    List<Long> values = new ArrayList<>((int) count);
    for (long i = 0; i < count; i++) {
      values.add(start + i * step);
    }
    return values;
  }

  private static long whole(Object value) {
    if (value instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())) {
      return n.longValue();
    }
    throw new Jinja2Error("'" + (value == null ? "NoneType" : value.getClass().getSimpleName())
        + "' object cannot be interpreted as an integer");
  }

  /** {@code strftime_now(format)}: the local time, formatted as Python's {@code strftime}. */
  public static String strftimeNow(String format) {
    return StrftimeFormatter.format(ZonedDateTime.now(), format);
  }

  /** What jinja2 raises where Jinjava would go on: the template fails here too, with jinja2's message. */
  static final class Jinja2Error extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Jinja2Error(String message) {
      super(message, null, false, false);
    }
  }

  /** {@code raise_exception}: the template refuses the conversation. */
  static final class Refused extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Refused(String message) {
      super(message, null, false, false);
    }
  }

  /** transformers' {@code tojson}: Python's {@code json.dumps} with {@code ensure_ascii=False} by default. */
  private static final class TojsonFilter implements Filter {
    @Override
    public String getName() {
      return "tojson";
    }

    @Override
    public Object filter(Object value, JinjavaInterpreter interpreter, String... args) {
      return filter(value, interpreter, args, Map.of());
    }

    @Override
    public Object filter(Object value, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
      Object indent = kwargs.getOrDefault("indent", args.length > 0 ? args[0] : null);
      Object separators = kwargs.get("separators");
      String item = null;
      String key = null;
      if (separators instanceof List<?> pair && pair.size() == 2) {
        item = String.valueOf(pair.get(0));
        key = String.valueOf(pair.get(1));
      }
      return new PythonJson(indent == null ? null : ((Number) indent).intValue(), item, key,
          Boolean.TRUE.equals(kwargs.get("sort_keys")), Boolean.TRUE.equals(kwargs.get("ensure_ascii")))
          .dumps(value);
    }
  }

  /** jinja2's {@code items} filter: a mapping's (key, value) pairs, for {@code {% for k, v in m | items %}}. */
  private static final class ItemsFilter implements Filter {
    @Override
    public String getName() {
      return "items";
    }

    @Override
    public Object filter(Object value, JinjavaInterpreter interpreter, String... args) {
      return value instanceof Map<?, ?> map ? new ArrayList<>(map.entrySet()) : List.of();
    }
  }

  /**
   * jinja2's {@code iterable} and {@code sequence} tests, true for strings as in Python; Jinjava's are false for
   * them, which sends templates such as Llama 3.2's down the branch for structured tool output.
   */
  private record PythonContainerTest(String getName) implements ExpTest {
    @Override
    public boolean evaluate(Object value, JinjavaInterpreter interpreter, Object... args) {
      return value instanceof CharSequence || value instanceof Iterable<?> || value instanceof Map<?, ?>
          || value != null && value.getClass().isArray();
    }
  }

  /**
   * {@code {% generation %}...{% endgeneration %}}: marks assistant text for transformers' assistant-token mask; for
   * rendering it is its content.
   */
  private static final class GenerationTag implements Tag {
    private static final long serialVersionUID = 1L;

    @Override
    public String getName() {
      return "generation";
    }

    @Override
    public String getEndTagName() {
      return "endgeneration";
    }

    @Override
    public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
      StringBuilder out = new StringBuilder();
      for (Node child : tagNode.getChildren()) {
        out.append(child.render(interpreter).getValue());
      }
      return out.toString();
    }
  }
}
