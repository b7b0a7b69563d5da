package dev.grpo4j.chat;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * Python's {@code str} methods and indexing on strings, which chat templates call ({@code content.strip()},
 * {@code content.split('</think>')[-1]}, {@code role.capitalize()}, {@code text[0]}) and which Jinjava, seeing a
 * {@code java.lang.String}, would otherwise resolve to Java's methods or not at all. Only the methods below are
 * provided; anything else falls through to Jinjava and, if unknown there too, is reported as a template error.
 */
final class PythonStrings extends ELResolver {
  /** Jinjava hands subscripts over as text. */
  private static final Pattern INDEX = Pattern.compile("-?\\d{1,9}");

  @Override
  public Object invoke(ELContext context, Object base, Object method, Class<?>[] types, Object[] params) {
    if (!(base instanceof CharSequence chars) || method == null) {
      return null;
    }
    String s = chars.toString();
    Object[] args = params == null ? new Object[0] : params;
    Object result = switch (method.toString()) {
      case "strip" -> strip(s, chars(args, 0), true, true);
      case "lstrip" -> strip(s, chars(args, 0), true, false);
      case "rstrip" -> strip(s, chars(args, 0), false, true);
      case "startswith" -> affix(s, args, true);
      case "endswith" -> affix(s, args, false);
      case "split" -> split(s, chars(args, 0), args.length > 1 ? ((Number) args[1]).intValue() : -1);
      case "rsplit" -> rsplit(s, chars(args, 0), args.length > 1 ? ((Number) args[1]).intValue() : -1);
      case "upper" -> s.toUpperCase(Locale.ROOT);
      case "lower" -> s.toLowerCase(Locale.ROOT);
      case "capitalize" -> s.isEmpty() ? s
          : s.substring(0, s.offsetByCodePoints(0, 1)).toUpperCase(Locale.ROOT)
              + s.substring(s.offsetByCodePoints(0, 1)).toLowerCase(Locale.ROOT);
      case "title" -> title(s);
      case "replace" -> s.replace(String.valueOf(args[0]), String.valueOf(args[1]));
      case "find" -> s.indexOf(String.valueOf(args[0]));
      case "count" -> count(s, String.valueOf(args[0]));
      case "join" -> join(s, args[0]);
      default -> null;
    };
    if (result != null) {
      context.setPropertyResolved(true);
    }
    return result;
  }

  @Override
  public Object getValue(ELContext context, Object base, Object property) {
    Integer position = property instanceof Number n ? Integer.valueOf(n.intValue())
        : property instanceof String p && INDEX.matcher(p).matches() ? Integer.valueOf(p) : null;
    if (base instanceof CharSequence chars && position != null) {
      String s = chars.toString();
      int length = s.codePointCount(0, s.length());
      int index = position < 0 ? length + position : position;
      context.setPropertyResolved(true);
      if (index < 0 || index >= length) {
        throw new IndexOutOfBoundsException("string index " + position + " out of range for a string of " + length
            + " characters");
      }
      int at = s.offsetByCodePoints(0, index);
      return s.substring(at, s.offsetByCodePoints(at, 1));
    }
    return null;
  }

  @Override
  public Class<?> getType(ELContext context, Object base, Object property) {
    return null;
  }

  @Override
  public void setValue(ELContext context, Object base, Object property, Object value) {}

  @Override
  public boolean isReadOnly(ELContext context, Object base, Object property) {
    return true;
  }

  @Override
  public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
    return null;
  }

  @Override
  public Class<?> getCommonPropertyType(ELContext context, Object base) {
    return null;
  }

  private static String chars(Object[] args, int i) {
    return args.length > i && args[i] != null ? args[i].toString() : null;
  }

  /** Python's strip family: whitespace by default, else any of the given characters. */
  static String strip(String s, String set, boolean left, boolean right) {
    int start = 0;
    int end = s.length();
    while (left && start < end && strips(s.charAt(start), set)) {
      start++;
    }
    while (right && end > start && strips(s.charAt(end - 1), set)) {
      end--;
    }
    return s.substring(start, end);
  }

  private static boolean strips(char c, String set) {
    return set == null ? Character.isWhitespace(c) || Character.isSpaceChar(c) : set.indexOf(c) >= 0;
  }

  private static Boolean affix(String s, Object[] args, boolean prefix) {
    Object what = args[0];
    Collection<?> options = what instanceof Collection<?> c ? c : List.of(what);
    for (Object o : options) {
      String affix = String.valueOf(o);
      if (prefix ? s.startsWith(affix) : s.endsWith(affix)) {
        return true;
      }
    }
    return false;
  }

  /** Python's {@code str.split}: on whitespace runs without a separator, else on each occurrence of it. */
  static List<String> split(String s, String sep, int maxSplit) {
    List<String> parts = new ArrayList<>();
    if (sep == null) {
      int i = 0;
      while (i < s.length()) {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
          i++;
        }
        if (i == s.length()) {
          break;
        }
        if (maxSplit >= 0 && parts.size() == maxSplit) {
          parts.add(strip(s.substring(i), null, false, true));
          return parts;
        }
        int start = i;
        while (i < s.length() && !Character.isWhitespace(s.charAt(i))) {
          i++;
        }
        parts.add(s.substring(start, i));
      }
      return parts;
    }
    if (sep.isEmpty()) {
      throw new IllegalArgumentException("split(): empty separator");
    }
    int start = 0;
    int at;
    while ((maxSplit < 0 || parts.size() < maxSplit) && (at = s.indexOf(sep, start)) >= 0) {
      parts.add(s.substring(start, at));
      start = at + sep.length();
    }
    parts.add(s.substring(start));
    return parts;
  }

  private static List<String> rsplit(String s, String sep, int maxSplit) {
    if (sep == null || maxSplit < 0) {
      return split(s, sep, maxSplit);
    }
    List<String> parts = new ArrayList<>();
    int end = s.length();
    while (parts.size() < maxSplit) {
      int at = end < sep.length() ? -1 : s.lastIndexOf(sep, end - sep.length());
      if (at < 0) {
        break;
      }
      parts.addFirst(s.substring(at + sep.length(), end));
      end = at;
    }
    parts.addFirst(s.substring(0, end));
    return parts;
  }

  private static String title(String s) {
    StringBuilder out = new StringBuilder(s.length());
    boolean previousCased = false;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      out.append(previousCased ? Character.toLowerCase(c) : Character.toUpperCase(c));
      previousCased = Character.isLetter(c);
    }
    return out.toString();
  }

  private static int count(String s, String what) {
    if (what.isEmpty()) {
      return s.length() + 1;
    }
    int n = 0;
    for (int at = s.indexOf(what); at >= 0; at = s.indexOf(what, at + what.length())) {
      n++;
    }
    return n;
  }

  private static String join(String separator, Object items) {
    StringBuilder out = new StringBuilder();
    if (items instanceof Iterable<?> iterable) {
      boolean first = true;
      for (Object o : iterable) {
        if (!first) {
          out.append(separator);
        }
        out.append(o);
        first = false;
      }
    }
    return out.toString();
  }
}
