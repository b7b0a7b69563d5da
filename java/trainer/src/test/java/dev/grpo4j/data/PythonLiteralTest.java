package dev.grpo4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.math.BigInteger;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The Python literals GlobalOpinionQA stores as text. */
class PythonLiteralTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The JSON tree of {@code json}: Python literals read as the same data in JSON would. */
  private static JsonNode json(String json) {
    try {
      return JSON.readTree(json);
    } catch (JsonProcessingException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void optionListsWithEitherQuoteAndEscapes() throws PythonLiteral.SyntaxError {
    assertEquals(json("[\"Yes\", \"Don't know\", \"Refused\"]"),
        PythonLiteral.parse("['Yes', \"Don't know\", 'Refused']"));
    ArrayNode escaped = JsonNodeFactory.instance.arrayNode();
    List.of("It's \"fine\"", "tab\there", "back\\slash", "é", "Germany’s", "\u00a0x").forEach(escaped::add);
    assertEquals(escaped, PythonLiteral.parse("['It\\'s \"fine\"', 'tab\\there', 'back\\\\slash', '\\xe9', "
        + "'Germany’s', '\\xa0x']"));
    ArrayNode prefixed = JsonNodeFactory.instance.arrayNode();
    List.of("\u2019", "\uD83D\uDE00", "a\\qb", "raw\\n").forEach(prefixed::add);
    assertEquals(prefixed, PythonLiteral.parse("[u'\\u2019', '\\U0001F600', 'a\\qb', r'raw\\n']"));
    JsonNode mixed = PythonLiteral.parse(" [1, '2', 3.5, -2e-3, [],] ");
    assertEquals(5, mixed.size(), "trailing comma and surrounding space");
    assertEquals(BigInteger.ONE, mixed.get(0).bigIntegerValue(), "integers stay exact");
    assertTrue(mixed.get(0).isBigInteger());
    assertEquals("2", mixed.get(1).textValue());
    assertEquals(3.5, mixed.get(2).doubleValue());
    assertEquals(-2e-3, mixed.get(3).doubleValue());
    assertEquals(json("[]"), mixed.get(4));
    JsonNode tuple = PythonLiteral.parse("(1, 2)");
    assertTrue(tuple.isArray() && tuple.size() == 2 && tuple.get(1).intValue() == 2, "tuples read as lists");
    assertEquals(new BigInteger("-12345678901234567890"), PythonLiteral.parse("-12_345_678_901_234_567_890")
        .bigIntegerValue());
  }

  @Test
  void selectionsAsDefaultdictOrDict() throws PythonLiteral.SyntaxError {
    JsonNode expected = json("{\"Belgium\": [0.21, 0.07, 0.69, 0.03], \"Côte d'Ivoire\": [0.5, 0.2, 0.3, 0]}");
    JsonNode parsed = PythonLiteral.parse("defaultdict(<class 'list'>, {'Belgium': [0.21, 0.07, 0.69, 0.03], "
        + "\"Côte d'Ivoire\": [0.5, 0.2, 0.3, 0]})");
    assertEquals(expected, json(parsed.toString()));
    assertEquals(List.of("Belgium", "Côte d'Ivoire"), parsed.properties().stream().map(Map.Entry::getKey).toList(),
        "in order");
    assertEquals(expected, json(PythonLiteral.parse("defaultdict(list, {'Belgium': [0.21, 0.07, 0.69, 0.03], "
        + "\"Côte d'Ivoire\": [0.5, 0.2, 0.3, 0]})").toString()));
    JsonNode single = PythonLiteral.parse("{'a': [1], 2: 'b'}");
    assertEquals(1, single.get("a").get(0).intValue());
    assertEquals("b", single.get("2").textValue(), "a number key becomes its text");
    assertEquals(json("{}"), PythonLiteral.parse("defaultdict(<class 'list'>, {})"));
  }

  @Test
  void nanInfNoneAndBooleansAreReadForTheCallerToJudge() throws PythonLiteral.SyntaxError {
    JsonNode values = PythonLiteral.parse("[nan, -inf, None, True, False]");
    assertTrue(Double.isNaN(values.get(0).doubleValue()));
    assertEquals(Double.NEGATIVE_INFINITY, values.get(1).doubleValue());
    assertTrue(values.get(2).isNull());
    assertEquals(json("[true, false]"), JsonNodeFactory.instance.arrayNode().add(values.get(3)).add(values.get(4)));
    assertEquals("a number", PythonLiteral.typeName(values.get(0)));
    assertEquals("None", PythonLiteral.typeName(values.get(2)));
    assertEquals("a dict", PythonLiteral.typeName(json("{}")));
    assertEquals("a list", PythonLiteral.typeName(json("[]")));
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
    assertEquals("a dict key must be a string or a number at character 2 (found \"None: 1}\")", message("{None: 1}"));
  }

  private static String message(String literal) {
    return assertThrows(PythonLiteral.SyntaxError.class, () -> PythonLiteral.parse(literal)).getMessage();
  }
}
