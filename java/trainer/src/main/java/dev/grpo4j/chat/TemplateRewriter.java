package dev.grpo4j.chat;

import java.util.ArrayList;
import java.util.List;

/**
 * Brings a chat template written for Python's jinja2 (as transformers renders it) into the form Jinjava reads the
 * same way. Jinjava parses a few jinja2 expressions differently, and silently: {@code not x is defined} as
 * {@code (not x) is defined}, a keyword argument {@code namespace(i=n - 1)} as {@code i=n} followed by
 * {@code - 1}, and it cannot parse the reversing slice {@code xs[::-1]} at all. Those are rewritten inside
 * {@code {{ }}} and {@code {% %}} blocks: {@code not (x is defined)}, {@code namespace(i=(n - 1))} and
 * {@code (xs|reverse|list)}. Constructs Jinjava would render differently with no way to rewrite them are refused
 * with the template line: loop filters ({@code {% for x in xs if c %}}, whose {@code loop} variables count only the
 * kept items) and slices with any other step.
 *
 * <p>Also as jinja2 does: line endings become {@code \n} and one trailing newline of the template is dropped.
 * Rewrites add no line breaks, so line numbers in Jinjava's errors are the template's own.
 */
final class TemplateRewriter {
  private TemplateRewriter() {}

  /**
   * A filter or test the template uses, so that one the engine lacks can be refused up front: Jinjava renders an
   * unknown filter or test as nothing, where jinja2 fails.
   *
   * @param kind {@code "filter"} or {@code "test"}
   * @param name its name
   * @param line where it is used
   */
  record NameUse(String kind, String name, int line) {}

  /**
   * The template as Jinjava should read it.
   *
   * @param text the rewritten template
   * @param uses the filters and tests it uses
   */
  record Rewritten(String text, List<NameUse> uses) {}

  /**
   * The rewritten template.
   *
   * @throws ChatTemplateException for a construct that cannot be rendered as jinja2 would, naming its line
   */
  static Rewritten rewrite(String template, String origin) {
    List<NameUse> uses = new ArrayList<>();
    String text = template.replace("\r\n", "\n").replace('\r', '\n');
    if (text.endsWith("\n")) {
      text = text.substring(0, text.length() - 1);
    }
    StringBuilder out = new StringBuilder(text.length() + 64);
    int i = 0;
    boolean raw = false;
    while (i < text.length()) {
      int open = text.indexOf('{', i);
      if (open < 0 || open + 1 >= text.length()) {
        out.append(text, i, text.length());
        break;
      }
      char kind = text.charAt(open + 1);
      if (kind != '{' && kind != '%' && kind != '#') {
        out.append(text, i, open + 1);
        i = open + 1;
        continue;
      }
      String closer = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
      int close = findClose(text, open + 2, closer, kind != '#');
      if (close < 0) {
        out.append(text, i, text.length());
        break;
      }
      out.append(text, i, open + 2);
      String body = text.substring(open + 2, close);
      int line = lineOf(text, open);
      if (kind == '%') {
        String tag = body.strip().replaceFirst("^[-+]\\s*", "");
        if (tag.startsWith("endraw")) {
          raw = false;
        } else if (!raw && tag.startsWith("raw")) {
          raw = true;
          out.append(body);
          out.append(closer);
          i = close + 2;
          continue;
        }
      }
      out.append(raw || kind == '#' ? body : rewriteExpression(body, kind == '%', origin, line, uses));
      out.append(closer);
      i = close + 2;
    }
    return new Rewritten(out.toString(), List.copyOf(uses));
  }

  /** The end of a block, skipping string literals inside expressions (a {@code "}}"} in a string is not the end). */
  private static int findClose(String text, int from, String closer, boolean code) {
    int i = from;
    while (i < text.length()) {
      char c = text.charAt(i);
      if (code && (c == '"' || c == '\'')) {
        i = endOfString(text, i);
        continue;
      }
      if (text.startsWith(closer, i)) {
        return i;
      }
      i++;
    }
    return -1;
  }

  private static int endOfString(String text, int start) {
    char quote = text.charAt(start);
    int i = start + 1;
    while (i < text.length() && text.charAt(i) != quote) {
      i += text.charAt(i) == '\\' ? 2 : 1;
    }
    return Math.min(i + 1, text.length());
  }

  private static int lineOf(String text, int position) {
    int line = 1;
    for (int i = 0; i < position; i++) {
      if (text.charAt(i) == '\n') {
        line++;
      }
    }
    return line;
  }

  private enum Kind { SPACE, STRING, NAME, NUMBER, OP }

  private record Token(Kind kind, String text) {
    boolean is(String s) {
      return (kind == Kind.OP || kind == Kind.NAME) && text.equals(s);
    }
  }

  private static String rewriteExpression(String body, boolean statement, String origin, int line,
                                          List<NameUse> uses) {
    List<Token> tokens = tokenize(body);
    if (statement) {
      refuseLoopFilter(tokens, origin, line);
    }
    collectUses(tokens, line, uses);
    tokens = reverseSlices(tokens, origin, line);
    tokens = groupNotIs(tokens);
    tokens = groupKeywordValues(tokens);
    StringBuilder out = new StringBuilder(body.length() + 16);
    for (Token t : tokens) {
      out.append(t.text());
    }
    return out.toString();
  }

  private static List<Token> tokenize(String s) {
    List<Token> tokens = new ArrayList<>();
    int i = 0;
    while (i < s.length()) {
      char c = s.charAt(i);
      int start = i;
      Kind kind;
      if (Character.isWhitespace(c)) {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
          i++;
        }
        kind = Kind.SPACE;
      } else if (c == '"' || c == '\'') {
        i = endOfString(s, i);
        kind = Kind.STRING;
      } else if (Character.isLetter(c) || c == '_') {
        while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_')) {
          i++;
        }
        kind = Kind.NAME;
      } else if (Character.isDigit(c)) {
        while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '.')) {
          i++;
        }
        kind = Kind.NUMBER;
      } else {
        boolean twoChar = i + 1 < s.length()
            && List.of("==", "!=", "<=", ">=", "//", "**").contains(s.substring(i, i + 2));
        i += twoChar ? 2 : 1;
        kind = Kind.OP;
      }
      tokens.add(new Token(kind, s.substring(start, i)));
    }
    return tokens;
  }

  private static void collectUses(List<Token> tokens, int line, List<NameUse> uses) {
    for (int i = 0; i < tokens.size(); i++) {
      Token t = tokens.get(i);
      if (t.is("|") || t.is("is")) {
        int name = nextCode(tokens, i + 1);
        if (name >= 0 && t.is("is") && tokens.get(name).is("not")) {
          name = nextCode(tokens, name + 1);
        }
        if (name >= 0 && tokens.get(name).kind() == Kind.NAME) {
          uses.add(new NameUse(t.is("|") ? "filter" : "test", tokens.get(name).text(), line));
        }
      }
    }
  }

  /** {@code {% for x in xs if cond %}}: jinja2 filters the items and counts {@code loop} over the kept ones. */
  private static void refuseLoopFilter(List<Token> tokens, String origin, int line) {
    int first = nextCode(tokens, 0);
    if (first < 0 || !tokens.get(first).is("for")) {
      return;
    }
    int depth = 0;
    boolean afterIn = false;
    for (int i = first + 1; i < tokens.size(); i++) {
      Token t = tokens.get(i);
      if (t.is("(") || t.is("[") || t.is("{")) {
        depth++;
      } else if (t.is(")") || t.is("]") || t.is("}")) {
        depth--;
      } else if (depth == 0 && t.is("in")) {
        afterIn = true;
      } else if (depth == 0 && afterIn && t.is("if") && !isConditionalExpression(tokens, i)) {
        throw new ChatTemplateException(origin, line, "a loop filter ({% for x in items if condition %}) is not "
            + "supported: the Jinja engine grpo4j uses would count loop.index and loop.last differently; write "
            + "{% for x in items %}{% if condition %}...{% endif %}{% endfor %} if the template does not use loop.*");
      }
    }
  }

  /** Whether the {@code if} at {@code i} belongs to {@code a if b else c} (an {@code else} follows at depth 0). */
  private static boolean isConditionalExpression(List<Token> tokens, int i) {
    int depth = 0;
    for (int j = i + 1; j < tokens.size(); j++) {
      Token t = tokens.get(j);
      if (t.is("(") || t.is("[") || t.is("{")) {
        depth++;
      } else if (t.is(")") || t.is("]") || t.is("}")) {
        depth--;
      } else if (depth == 0 && t.is("else")) {
        return true;
      }
    }
    return false;
  }

  /** {@code x[::-1]} becomes {@code (x|reverse|list)}; any other stepped slice is refused. */
  private static List<Token> reverseSlices(List<Token> tokens, String origin, int line) {
    List<Token> out = new ArrayList<>(tokens);
    for (int i = 0; i < out.size(); i++) {
      if (!out.get(i).is("[")) {
        continue;
      }
      int close = matching(out, i);
      if (close < 0) {
        continue;
      }
      List<Token> inside = code(out.subList(i + 1, close));
      long colons = topLevelCount(inside, ":");
      if (colons < 2) {
        continue;
      }
      boolean reversing = inside.size() == 4 && inside.get(0).is(":") && inside.get(1).is(":")
          && inside.get(2).is("-") && inside.get(3).text().equals("1");
      if (!reversing) {
        throw new ChatTemplateException(origin, line, "a slice with a step other than [::-1] is not supported");
      }
      int start = postfixStart(out, i);
      if (start < 0) {
        throw new ChatTemplateException(origin, line, "[::-1] must follow a name, a call or a subscript");
      }
      List<Token> replaced = new ArrayList<>(out.subList(0, start));
      replaced.add(new Token(Kind.OP, "("));
      replaced.addAll(out.subList(start, i));
      replaced.add(new Token(Kind.OP, "|reverse|list)"));
      replaced.addAll(out.subList(close + 1, out.size()));
      out = replaced;
      i = start;
    }
    return out;
  }

  /** {@code not x is test} becomes {@code not (x is test)}, jinja2's reading. */
  private static List<Token> groupNotIs(List<Token> tokens) {
    List<Token> out = new ArrayList<>(tokens);
    for (int i = 0; i < out.size(); i++) {
      if (!out.get(i).is("not")) {
        continue;
      }
      int operand = nextCode(out, i + 1);
      if (operand < 0 || out.get(operand).kind() == Kind.OP) {
        continue;
      }
      int end = postfixEnd(out, operand);
      int is = nextCode(out, end);
      if (is < 0 || !out.get(is).is("is")) {
        continue;
      }
      int test = nextCode(out, is + 1);
      if (test >= 0 && out.get(test).is("not")) {
        test = nextCode(out, test + 1);
      }
      if (test < 0 || out.get(test).kind() != Kind.NAME) {
        continue;
      }
      int after = test + 1;
      if (after < out.size() && out.get(after).is("(")) {
        after = matching(out, after) + 1;
      }
      out.add(after, new Token(Kind.OP, ")"));
      out.add(operand, new Token(Kind.OP, "("));
    }
    return out;
  }

  /** Keyword arguments with an operator in their value get parentheses: {@code f(a=n - 1)} to {@code f(a=(n - 1))}. */
  private static List<Token> groupKeywordValues(List<Token> tokens) {
    List<Token> out = new ArrayList<>(tokens);
    for (int i = 0; i < out.size(); i++) {
      if (!out.get(i).is("(") || i == 0 || out.get(i - 1).kind() == Kind.SPACE
          || out.get(i - 1).kind() == Kind.OP && !out.get(i - 1).is(")") && !out.get(i - 1).is("]")) {
        continue;
      }
      int close = matching(out, i);
      if (close < 0) {
        continue;
      }
      int argStart = i + 1;
      int depth = 0;
      for (int j = i + 1; j <= close; j++) {
        Token t = out.get(j);
        boolean end = j == close || depth == 0 && t.is(",");
        if (t.is("(") || t.is("[") || t.is("{")) {
          depth++;
        } else if ((t.is(")") || t.is("]") || t.is("}")) && j != close) {
          depth--;
        }
        if (!end) {
          continue;
        }
        int name = nextCode(out, argStart);
        int equals = name < 0 ? -1 : nextCode(out, name + 1);
        if (name >= 0 && name < j && out.get(name).kind() == Kind.NAME && equals >= 0 && equals < j
            && out.get(equals).is("=")) {
          int valueStart = nextCode(out, equals + 1);
          if (valueStart >= 0 && valueStart < j && code(out.subList(valueStart, j)).size() > 1) {
            out.add(j, new Token(Kind.OP, ")"));
            out.add(valueStart, new Token(Kind.OP, "("));
            close += 2;
            j += 2;
          }
        }
        argStart = j + 1;
      }
    }
    return out;
  }

  private static int postfixStart(List<Token> tokens, int bracket) {
    int i = bracket - 1;
    while (i >= 0) {
      Token t = tokens.get(i);
      if (t.is("]") || t.is(")")) {
        int open = opening(tokens, i);
        boolean applied = open > 0 && (tokens.get(open - 1).kind() == Kind.NAME || tokens.get(open - 1).is("]")
            || tokens.get(open - 1).is(")") || tokens.get(open - 1).kind() == Kind.STRING);
        if (!applied) {
          return open;
        }
        i = open - 1;
        continue;
      }
      if (t.kind() == Kind.NAME || t.kind() == Kind.STRING || t.kind() == Kind.NUMBER) {
        if (i > 0 && tokens.get(i - 1).is(".")) {
          i -= 2;
          continue;
        }
        return i;
      }
      return -1;
    }
    return -1;
  }

  private static int postfixEnd(List<Token> tokens, int start) {
    int i = start + 1;
    while (i < tokens.size()) {
      Token t = tokens.get(i);
      if (t.is("[") || t.is("(")) {
        int close = matching(tokens, i);
        if (close < 0) {
          return tokens.size();
        }
        i = close + 1;
      } else if (t.is(".") && i + 1 < tokens.size() && tokens.get(i + 1).kind() == Kind.NAME) {
        i += 2;
      } else {
        return i;
      }
    }
    return i;
  }

  private static int matching(List<Token> tokens, int open) {
    String o = tokens.get(open).text();
    String c = o.equals("(") ? ")" : o.equals("[") ? "]" : "}";
    int depth = 0;
    for (int i = open; i < tokens.size(); i++) {
      if (tokens.get(i).is(o)) {
        depth++;
      } else if (tokens.get(i).is(c) && --depth == 0) {
        return i;
      }
    }
    return -1;
  }

  private static int opening(List<Token> tokens, int close) {
    String c = tokens.get(close).text();
    String o = c.equals(")") ? "(" : "[";
    int depth = 0;
    for (int i = close; i >= 0; i--) {
      if (tokens.get(i).is(c)) {
        depth++;
      } else if (tokens.get(i).is(o) && --depth == 0) {
        return i;
      }
    }
    return -1;
  }

  private static int nextCode(List<Token> tokens, int from) {
    for (int i = from; i < tokens.size(); i++) {
      if (tokens.get(i).kind() != Kind.SPACE) {
        return i;
      }
    }
    return -1;
  }

  private static List<Token> code(List<Token> tokens) {
    return tokens.stream().filter(t -> t.kind() != Kind.SPACE).toList();
  }

  private static long topLevelCount(List<Token> tokens, String op) {
    int depth = 0;
    long n = 0;
    for (Token t : tokens) {
      if (t.is("(") || t.is("[") || t.is("{")) {
        depth++;
      } else if (t.is(")") || t.is("]") || t.is("}")) {
        depth--;
      } else if (depth == 0 && t.is(op)) {
        n++;
      }
    }
    return n;
  }
}
