package dev.grpo4j.chat;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The text Python's {@code json.dumps} writes, which transformers' {@code tojson} filter returns: {@code ", "} and
 * {@code ": "} between items (or {@code ","} and newlines with an indent), non-ASCII kept unless
 * {@code ensure_ascii}, floats as Python prints them. Jinjava's own {@code tojson} writes compact JSON, which would
 * put different text (and so different tokens) into a tool-call rendering.
 */
final class PythonJson {
  private final Integer indent;
  private final String itemSeparator;
  private final String keySeparator;
  private final boolean sortKeys;
  private final boolean ensureAscii;

  PythonJson(Integer indent, String itemSeparator, String keySeparator, boolean sortKeys, boolean ensureAscii) {
    this.indent = indent;
    this.itemSeparator = itemSeparator != null ? itemSeparator : indent != null ? "," : ", ";
    this.keySeparator = keySeparator != null ? keySeparator : ": ";
    this.sortKeys = sortKeys;
    this.ensureAscii = ensureAscii;
  }

  String dumps(Object value) {
    StringBuilder out = new StringBuilder();
    write(value, out, 0);
    return out.toString();
  }

  private void write(Object value, StringBuilder out, int level) {
    switch (value) {
      case null -> out.append("null");
      case Boolean b -> out.append(b ? "true" : "false");
      case Float f -> out.append(pythonFloat(f.doubleValue()));
      case Double d -> out.append(pythonFloat(d));
      case BigDecimal d -> out.append(pythonFloat(d.doubleValue()));
      case Number n -> out.append(n);
      case CharSequence s -> string(s.toString(), out);
      case Map<?, ?> map -> object(map, out, level);
      case Iterable<?> items -> array(items, out, level);
      case Object[] items -> array(List.of(items), out, level);
      default -> string(value.toString(), out);
    }
  }

  private void object(Map<?, ?> map, StringBuilder out, int level) {
    if (map.isEmpty()) {
      out.append("{}");
      return;
    }
    List<Map.Entry<?, ?>> entries = new ArrayList<>(map.entrySet());
    if (sortKeys) {
      entries.sort((a, b) -> String.valueOf(a.getKey()).compareTo(String.valueOf(b.getKey())));
    }
    out.append('{');
    boolean first = true;
    for (Map.Entry<?, ?> e : entries) {
      if (!first) {
        out.append(itemSeparator);
      }
      newline(out, level + 1);
      string(String.valueOf(e.getKey()), out);
      out.append(keySeparator);
      write(e.getValue(), out, level + 1);
      first = false;
    }
    newline(out, level);
    out.append('}');
  }

  private void array(Iterable<?> items, StringBuilder out, int level) {
    if (!items.iterator().hasNext()) {
      out.append("[]");
      return;
    }
    out.append('[');
    boolean first = true;
    for (Object item : items) {
      if (!first) {
        out.append(itemSeparator);
      }
      newline(out, level + 1);
      write(item, out, level + 1);
      first = false;
    }
    newline(out, level);
    out.append(']');
  }

  private void newline(StringBuilder out, int level) {
    if (indent != null) {
      out.append('\n').append(" ".repeat(indent * level));
    }
  }

  private void string(String s, StringBuilder out) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          if (c < 0x20 || ensureAscii && c > 0x7f) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }

  /** Python's {@code repr} of a float: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
  static String pythonFloat(double d) {
    if (Double.isNaN(d)) {
      return "NaN";
    }
    if (Double.isInfinite(d)) {
      return d > 0 ? "Infinity" : "-Infinity";
    }
    if (d == 0) {
      return 1 / d < 0 ? "-0.0" : "0.0";
    }
    BigDecimal shortest = new BigDecimal(Double.toString(d)).stripTrailingZeros();
    int exponent = shortest.precision() - shortest.scale() - 1;
    if (exponent < -4 || exponent >= 16) {
      String digits = shortest.unscaledValue().abs().toString();
      String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
      return (d < 0 ? "-" : "") + mantissa + "e" + (exponent < 0 ? "-" : "+")
          + String.format("%02d", Math.abs(exponent));
    }
    String plain = shortest.toPlainString();
    return plain.contains(".") ? plain : plain + ".0";
  }
}
