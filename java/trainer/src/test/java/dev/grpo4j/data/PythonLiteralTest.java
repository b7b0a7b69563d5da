package dev.grpo4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The Python literals GlobalOpinionQA stores as text. */
class PythonLiteralTest {
  private static PythonLiteral.Num num(String text) {
    return new PythonLiteral.Num(text, Double.parseDouble(text));
  }

  @Test
  void optionListsWithEitherQuoteAndEscapes() throws PythonLiteral.SyntaxError {
    assertEquals(List.of("Yes", "Don't know", "Refused"),
        PythonLiteral.parse("['Yes', \"Don't know\", 'Refused']"));
    assertEquals(List.of("It's \"fine\"", "tab\there", "back\\slash", "é", "Germany’s", "\u00a0x"),
        PythonLiteral.parse("['It\\'s \"fine\"', 'tab\\there', 'back\\\\slash', '\\xe9', 'Germany’s', "
            + "'\\xa0x']"));
    assertEquals(List.of("\u2019", "\uD83D\uDE00", "a\\qb", "raw\\n"),
        PythonLiteral.parse("[u'\\u2019', '\\U0001F600', 'a\\qb', r'raw\\n']"));
    assertEquals(List.of(num("1"), "2", num("3.5"), num("-2e-3"), List.of()),
        PythonLiteral.parse(" [1, '2', 3.5, -2e-3, [],] "), "trailing comma and surrounding space");
    assertEquals(List.of(num("1"), num("2")), PythonLiteral.parse("(1, 2)"), "tuples read as lists");
  }

  @Test
  void selectionsAsDefaultdictOrDict() throws PythonLiteral.SyntaxError {
    Map<Object, Object> expected = new LinkedHashMap<>();
    expected.put("Belgium", List.of(num("0.21"), num("0.07"), num("0.69"), num("0.03")));
    expected.put("Côte d'Ivoire", List.of(num("0.5"), num("0.2"), num("0.3"), num("0")));
    Object parsed = PythonLiteral.parse("defaultdict(<class 'list'>, {'Belgium': [0.21, 0.07, 0.69, 0.03], "
        + "\"Côte d'Ivoire\": [0.5, 0.2, 0.3, 0]})");
    assertEquals(expected, parsed);
    assertEquals(List.of("Belgium", "Côte d'Ivoire"), List.copyOf(((Map<?, ?>) parsed).keySet()), "in order");
    assertEquals(expected, PythonLiteral.parse("defaultdict(list, {'Belgium': [0.21, 0.07, 0.69, 0.03], "
        + "\"Côte d'Ivoire\": [0.5, 0.2, 0.3, 0]})"));
    assertEquals(Map.of("a", List.of(num("1"))), PythonLiteral.parse("{'a': [1]}"));
    assertEquals(Map.of(), PythonLiteral.parse("defaultdict(<class 'list'>, {})"));
  }

  @Test
  void nanInfNoneAndBooleansAreReadForTheCallerToJudge() throws PythonLiteral.SyntaxError {
    List<?> values = (List<?>) PythonLiteral.parse("[nan, -inf, None, True, False]");
    assertTrue(Double.isNaN(((PythonLiteral.Num) values.get(0)).value()));
    assertEquals(Double.NEGATIVE_INFINITY, ((PythonLiteral.Num) values.get(1)).value());
    assertEquals(PythonLiteral.NONE, values.get(2));
    assertEquals(List.of(true, false), values.subList(3, 5));
  }

  @Test
  void errorsSayWhereAndWhat() {
    assertEquals("expected ',' or ']' at character 8 (found \"'No']\")", message("['Yes' 'No']"));
    assertEquals("unclosed string at character 9 (found \"'No]\")", message("['Yes', 'No]"));
    assertEquals("expected ',' or '}' at character 10 (found the end of the text)", message("{'a': [1]"));
    assertEquals("'Yes' is not a literal (a quoted string, number, list or dict) at character 2 (found \"Yes, "
        + "No]\")", message("[Yes, No]"));
    assertEquals("unexpected text after the literal at character 5 (found \"]\")", message("[1] ]"));
    assertEquals("the key 'a' appears twice in the dict at character 10 (found \"'a': 2}\")",
        message("{'a': 1, 'a': 2}"));
    assertEquals("the text ends where a value was expected at character 1 (found the end of the text)", message(""));
  }

  private static String message(String literal) {
    return assertThrows(PythonLiteral.SyntaxError.class, () -> PythonLiteral.parse(literal)).getMessage();
  }
}
