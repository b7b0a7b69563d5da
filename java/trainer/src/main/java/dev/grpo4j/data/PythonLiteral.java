package dev.grpo4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigInteger;

/**
 * Reads Python literals stored as text: those GlobalOpinionQA holds, {@code str()} of a list of options such as
 * {@code ['Yes', "Don't know"]}, and of the selections, {@code defaultdict(<class 'list'>, {'Germany': [0.7, 0.3]})}.
 *
 * <p>Understood: strings in single or double quotes (with an optional {@code u} or {@code r} prefix and Python's
 * escapes), integers and floats (including {@code nan} and {@code inf}, which Python prints but
 * {@code ast.literal_eval} refuses; they are read so that the caller can name the bad share), {@code True},
 * {@code False}, {@code None}, lists, tuples (read as lists), dicts, and a top-level {@code defaultdict(factory, dict)}
 * (read as its dict). Values come back as the JSON trees of the same data, as JSON files hold it, so that one set
 * of checks reads both: strings, booleans, {@code None} as null, integers as big-integer numbers, other numbers as
 * doubles, lists and tuples as arrays, dicts as objects (in source order; a number key becomes its text).
 */
public final class PythonLiteral {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  /** A literal that is not valid; the message says where and what was expected. */
  public static final class SyntaxError extends Exception {
    private static final long serialVersionUID = 1L;

    SyntaxError(String message) {
      super(message, null, false, false);
    }
  }

  private final String text;
  private final boolean numpyLists;
  private int pos;

  private PythonLiteral(String text, boolean numpyLists) {
    this.text = text;
    this.numpyLists = numpyLists;
  }

  /**
   * Parses one literal; surrounding whitespace is allowed, anything else after it is not.
   *
   * @throws SyntaxError naming the character position (1-based) and what was expected there
   */
  public static JsonNode parse(String text) throws SyntaxError {
    return parse(text, false);
  }

  /**
   * Parses one literal, optionally also reading lists as numpy prints arrays of objects: items separated by
   * whitespace instead of commas ({@code [{'a': 1}\n {'a': 2}]}), which is what pandas, and so Hugging Face
   * datasets' {@code to_csv}, writes for a column of lists.
   *
   * @throws SyntaxError naming the character position (1-based) and what was expected there
   */
  public static JsonNode parse(String text, boolean numpyLists) throws SyntaxError {
    PythonLiteral p = new PythonLiteral(text, numpyLists);
    p.skipSpace();
    JsonNode value = p.startsWithWord("defaultdict") ? p.defaultDict() : p.value();
    p.skipSpace();
    if (p.pos < text.length()) {
      throw p.error("unexpected text after the literal");
    }
    return value;
  }

  /** Python's name of a value's type, for messages. */
  public static String typeName(JsonNode value) {
    return switch (value.getNodeType()) {
      case STRING -> "a string";
      case NUMBER -> "a number";
      case BOOLEAN -> "a boolean";
      case ARRAY -> "a list";
      case OBJECT -> "a dict";
      default -> "None";
    };
  }

  private JsonNode defaultDict() throws SyntaxError {
    pos += "defaultdict".length();
    expect('(');
    skipSpace();
    if (peek() == '<') {
      // The factory prints as <class 'list'>; its type is irrelevant to the data.
      int close = text.indexOf('>', pos);
      if (close < 0) {
        throw error("unclosed '<' in the defaultdict's factory");
      }
      pos = close + 1;
    } else if (Character.isJavaIdentifierStart(peek())) {
      identifier();
    } else {
      throw error("expected the defaultdict's factory, e.g. <class 'list'>");
    }
    expect(',');
    skipSpace();
    if (peek() != '{') {
      throw error("expected the defaultdict's contents, a dict in { }");
    }
    JsonNode dict = value();
    skipSpace();
    if (peek() == ',') {
      pos++;
    }
    expect(')');
    return dict;
  }

  private JsonNode value() throws SyntaxError {
    skipSpace();
    char c = peek();
    return switch (c) {
      case '[' -> sequence('[', ']');
      case '(' -> sequence('(', ')');
      case '{' -> dict();
      case '\'', '"' -> NODES.textNode(string());
      default -> {
        if (c == '-' || c == '+' || c == '.' || Character.isDigit(c)) {
          yield number();
        }
        if ((c == 'u' || c == 'U' || c == 'r' || c == 'R') && pos + 1 < text.length()
            && (text.charAt(pos + 1) == '\'' || text.charAt(pos + 1) == '"')) {
          pos++;
          yield NODES.textNode(c == 'r' || c == 'R' ? rawString() : string());
        }
        if (Character.isJavaIdentifierStart(c)) {
          yield word();
        }
        throw error(pos >= text.length() ? "the text ends where a value was expected" : "expected a value");
      }
    };
  }

  private ArrayNode sequence(char open, char close) throws SyntaxError {
    expect(open);
    ArrayNode items = NODES.arrayNode();
    skipSpace();
    while (peek() != close) {
      items.add(value());
      int before = pos;
      skipSpace();
      if (peek() == ',') {
        pos++;
        skipSpace();
      } else if (peek() != close && !(numpyLists && open == '[' && pos > before)) {
        throw error("expected ',' or '" + close + "'");
      }
    }
    pos++;
    return items;
  }

  private ObjectNode dict() throws SyntaxError {
    expect('{');
    ObjectNode entries = NODES.objectNode();
    skipSpace();
    while (peek() != '}') {
      int keyAt = pos;
      JsonNode key = value();
      if (!key.isTextual() && !key.isNumber()) {
        pos = keyAt;
        throw error("a dict key must be a string or a number");
      }
      String name = key.isTextual() ? key.textValue() : text.substring(keyAt, pos).strip();
      expect(':');
      JsonNode item = value();
      if (entries.replace(name, item) != null) {
        pos = keyAt;
        throw error("the key " + (key.isTextual() ? "'" + name + "'" : name) + " appears twice in the dict");
      }
      skipSpace();
      if (peek() == ',') {
        pos++;
        skipSpace();
      } else if (peek() != '}') {
        throw error("expected ',' or '}'");
      }
    }
    pos++;
    return entries;
  }

  private String string() throws SyntaxError {
    int start = pos;
    char quote = text.charAt(pos++);
    StringBuilder out = new StringBuilder();
    while (true) {
      if (pos >= text.length()) {
        pos = start;
        throw error("unclosed string");
      }
      char c = text.charAt(pos++);
      if (c == quote) {
        return out.toString();
      }
      if (c == '\n') {
        pos = start;
        throw error("unclosed string (a line ends inside it)");
      }
      if (c != '\\') {
        out.append(c);
        continue;
      }
      if (pos >= text.length()) {
        pos = start;
        throw error("unclosed string");
      }
      char e = text.charAt(pos++);
      switch (e) {
        case '\n' -> { }
        case '\\', '\'', '"' -> out.append(e);
        case 'n' -> out.append('\n');
        case 't' -> out.append('\t');
        case 'r' -> out.append('\r');
        case 'a' -> out.append('\u0007');
        case 'b' -> out.append('\b');
        case 'f' -> out.append('\f');
        case 'v' -> out.append('\u000B');
        case 'x' -> out.appendCodePoint(hex(2));
        case 'u' -> out.appendCodePoint(hex(4));
        case 'U' -> out.appendCodePoint(hex(8));
        default -> {
          if (e >= '0' && e <= '7') {
            int code = e - '0';
            for (int i = 0; i < 2 && pos < text.length() && text.charAt(pos) >= '0' && text.charAt(pos) <= '7'; i++) {
              code = code * 8 + (text.charAt(pos++) - '0');
            }
            out.append((char) code);
          } else {
            // Python keeps unknown escapes as written.
            out.append('\\').append(e);
          }
        }
      }
    }
  }

  private String rawString() throws SyntaxError {
    int start = pos;
    char quote = text.charAt(pos++);
    StringBuilder out = new StringBuilder();
    while (pos < text.length()) {
      char c = text.charAt(pos++);
      if (c == quote) {
        return out.toString();
      }
      out.append(c);
      if (c == '\\' && pos < text.length()) {
        out.append(text.charAt(pos++));
      }
    }
    pos = start;
    throw error("unclosed string");
  }

  private int hex(int digits) throws SyntaxError {
    if (pos + digits > text.length()) {
      throw error("expected " + digits + " hex digits after the escape");
    }
    try {
      int code = Integer.parseUnsignedInt(text.substring(pos, pos + digits), 16);
      if (!Character.isValidCodePoint(code)) {
        throw error("escape \\U" + text.substring(pos, pos + digits) + " is not a Unicode code point");
      }
      pos += digits;
      return code;
    } catch (NumberFormatException e) {
      throw error("expected " + digits + " hex digits after the escape");
    }
  }

  private JsonNode number() throws SyntaxError {
    int start = pos;
    if (peek() == '-' || peek() == '+') {
      pos++;
      skipSpace();
    }
    String sign = text.substring(start, pos).strip();
    if (Character.isJavaIdentifierStart(peek())) {
      String word = identifier();
      if (word.equals("inf") || word.equals("nan")) {
        double v = word.equals("nan") ? Double.NaN : sign.equals("-") ? Double.NEGATIVE_INFINITY
            : Double.POSITIVE_INFINITY;
        return NODES.numberNode(v);
      }
      pos = start;
      throw error("expected a number");
    }
    int digitsAt = pos;
    while (pos < text.length() && (Character.isDigit(peek()) || peek() == '.' || peek() == '_'
        || peek() == 'e' || peek() == 'E'
        || ((peek() == '-' || peek() == '+') && (text.charAt(pos - 1) == 'e' || text.charAt(pos - 1) == 'E')))) {
      pos++;
    }
    String digits = text.substring(digitsAt, pos).replace("_", "");
    try {
      String number = (sign.equals("-") ? "-" : "") + digits;
      return digits.chars().allMatch(Character::isDigit) && !digits.isEmpty()
          ? NODES.numberNode(new BigInteger(number)) : NODES.numberNode(Double.parseDouble(number));
    } catch (NumberFormatException e) {
      pos = start;
      throw error("not a number");
    }
  }

  private JsonNode word() throws SyntaxError {
    int start = pos;
    String word = identifier();
    return switch (word) {
      case "True" -> NODES.booleanNode(true);
      case "False" -> NODES.booleanNode(false);
      case "None" -> NODES.nullNode();
      case "nan" -> NODES.numberNode(Double.NaN);
      case "inf" -> NODES.numberNode(Double.POSITIVE_INFINITY);
      default -> {
        pos = start;
        throw error("'" + word + "' is not a literal (a quoted string, number, list or dict)");
      }
    };
  }

  private String identifier() {
    int start = pos;
    while (pos < text.length() && Character.isJavaIdentifierPart(text.charAt(pos))) {
      pos++;
    }
    return text.substring(start, pos);
  }

  private boolean startsWithWord(String word) {
    return text.startsWith(word, pos) && (pos + word.length() >= text.length()
        || !Character.isJavaIdentifierPart(text.charAt(pos + word.length())));
  }

  private void expect(char c) throws SyntaxError {
    skipSpace();
    if (peek() != c) {
      throw error("expected '" + c + "'");
    }
    pos++;
  }

  private char peek() {
    return pos < text.length() ? text.charAt(pos) : '\0';
  }

  private void skipSpace() {
    while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
      pos++;
    }
  }

  private SyntaxError error(String what) {
    String found = pos >= text.length() ? "the end of the text"
        : "\"" + text.substring(pos, Math.min(text.length(), pos + 20)) + (pos + 20 < text.length() ? "…" : "")
            + "\"";
    return new SyntaxError(what + " at character " + (pos + 1) + " (found " + found + ")");
  }
}
