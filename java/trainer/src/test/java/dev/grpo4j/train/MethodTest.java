package dev.grpo4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.LossType;
import dev.grpo4j.Weighting;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link Method}: the accepted spellings, the two printed names, and each method's loss and group weighting. */
class MethodTest {
  @ParameterizedTest
  @ValueSource(strings = {"gr-dpo", "GR_DPO", "GR-DPO", "gr_dpo", "Gr-Dpo", "\tgr-dpo\n"})
  void parseAcceptsEverySpellingOfGrDpo(String name) {
    assertEquals(Method.GR_DPO, Method.parse(name));
  }

  @Test
  void parseStripsWhitespace() {
    assertEquals(Method.IS_IPO, Method.parse(" is-ipo "));
    assertEquals(Method.DPO, Method.parse("dpo"));
  }

  @ParameterizedTest
  @EnumSource(Method.class)
  void namesRoundTripThroughParse(Method m) {
    assertEquals(m, Method.parse(m.cliName()));
    assertEquals(m, Method.parse(m.displayName()));
    assertEquals(m, Method.parse(m.name()));
  }

  @ParameterizedTest
  @ValueSource(strings = {"grdpo", "gr dpo", "", "sft", "gr-dpo-x"})
  void unknownNameListsTheValidOnes(String name) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Method.parse(name));
    assertTrue(e.getMessage().contains("unknown method \"" + name + "\""), e.getMessage());
    for (Method m : Method.values()) {
      assertTrue(e.getMessage().contains(m.cliName()), e.getMessage() + " lacks " + m.cliName());
    }
  }

  @Test
  void cliAndDisplayNames() {
    assertEquals("gr-dpo", Method.GR_DPO.cliName());
    assertEquals("GR-DPO", Method.GR_DPO.displayName());
    assertEquals("is-ipo", Method.IS_IPO.cliName());
    assertEquals("IS-IPO", Method.IS_IPO.displayName());
    assertEquals("dpo", Method.DPO.cliName());
    assertEquals("DPO", Method.DPO.displayName());
  }

  @Test
  void lossTypeAndWeightingOfEveryMethod() {
    assertMapping(Method.DPO, LossType.DPO, Weighting.AVERAGE);
    assertMapping(Method.IPO, LossType.IPO, Weighting.AVERAGE);
    assertMapping(Method.IS_DPO, LossType.DPO, Weighting.IMPORTANCE_SAMPLING);
    assertMapping(Method.IS_IPO, LossType.IPO, Weighting.IMPORTANCE_SAMPLING);
    assertMapping(Method.GR_DPO, LossType.DPO, Weighting.ROBUST);
    assertMapping(Method.GR_IPO, LossType.IPO, Weighting.ROBUST);
    Set<List<Object>> configurations = new HashSet<>();
    for (Method m : Method.values()) {
      assertEquals(m, Method.parse(m.cliName()), m + " round-trips through its command-line name");
      assertTrue(configurations.add(List.of(m.lossType(), m.weighting())), m + " is not another method's loss");
    }
  }

  private static void assertMapping(Method m, LossType loss, Weighting weighting) {
    assertEquals(loss, m.lossType(), m + " loss");
    assertEquals(weighting, m.weighting(), m + " weighting");
  }
}
