package dev.grpo4j.survey;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Prompts, chosen and rejected letters, and skipped questions, on hand-made questions. */
class SurveyPairsTest {
  static final SurveyQuestion DEATH_PENALTY = question("Do you support the death penalty?", List.of("Yes", "No"),
      "Germany", List.of(0.3, 0.7), "France", List.of(0.6, 0.4));
  static final SurveyQuestion ECONOMY = question("  How good is the economy?\n",
      List.of("Very good", "Somewhat good", "Somewhat bad", "Very bad"),
      "Germany", List.of(10.0, 40.0, 40.0, 10.0), "France", List.of(0.05, 0.15, 0.3, 0.5));
  static final SurveyQuestion ONE_OPTION = question("Anything else?", List.of("Refused"),
      "Germany", List.of(1.0), "France", List.of(1.0));
  static final SurveyQuestion NO_ANSWERS = question("Is it raining?", List.of("Yes", "No"),
      "Germany", List.of(0.0, 0.0), "France", List.of());

  static SurveyQuestion question(String text, List<String> options, Object... groupsAndShares) {
    Map<String, List<Double>> selections = new LinkedHashMap<>();
    for (int i = 0; i < groupsAndShares.length; i += 2) {
      @SuppressWarnings("unchecked")
      List<Double> shares = (List<Double>) groupsAndShares[i + 1];
      selections.put((String) groupsAndShares[i], shares);
    }
    return new SurveyQuestion("test", text, options, selections);
  }

  @Test
  void promptListsLetteredOptionsAndEndsWithAnswer() {
    assertEquals("""
        Opinion of people in Germany on: Do you support the death penalty?
        Please select the best response:
        A. Yes
        B. No
        Answer:""", SurveyPairs.prompt("Germany", DEATH_PENALTY.question(), DEATH_PENALTY.options()));
    assertEquals("""
        Opinion of people in France on: How good is the economy?
        Please select the best response:
        A. Very good
        B. Somewhat good
        C. Somewhat bad
        D. Very bad
        Answer:""", SurveyPairs.prompt("France", ECONOMY.question(), ECONOMY.options()),
        "the question is stripped of its surrounding whitespace");
  }

  @Test
  void chosenIsTheMostFrequentAnswerAndTiesGoToTheLowestLetter() {
    assertEquals(1, SurveyPairs.chosenIndex(List.of(0.3, 0.7)));
    assertEquals(1, SurveyPairs.chosenIndex(List.of(10.0, 40.0, 40.0, 10.0)));
    assertEquals(0, SurveyPairs.chosenIndex(List.of(0.5, 0.5)));
    assertEquals(3, SurveyPairs.chosenIndex(List.of(0.05, 0.15, 0.3, 0.5)));
    assertEquals(-1, SurveyPairs.chosenIndex(List.of(0.0, 0.0)));
    assertEquals(-1, SurveyPairs.chosenIndex(List.of()));

    SurveyPairs.Built built = SurveyPairs.build(List.of(DEATH_PENALTY, ECONOMY), " ", 0);
    assertEquals(List.of(" B", " A", " B", " D"), built.pairs().stream().map(SurveyPair::chosen).toList());
    assertEquals(List.of("Germany", "France", "Germany", "France"),
        built.pairs().stream().map(SurveyPair::group).toList());
    assertEquals(List.of(0, 0, 1, 1), built.pairs().stream().map(SurveyPair::questionIndex).toList());
    assertEquals(SurveyPairs.prompt("France", ECONOMY.question(), ECONOMY.options()), built.pairs().get(3).prompt());
  }

  @Test
  void twoOptionQuestionsRejectTheOtherLetter() {
    for (long seed = 0; seed < 20; seed++) {
      List<SurveyPair> pairs = SurveyPairs.build(List.of(DEATH_PENALTY), " ", seed).pairs();
      assertEquals(" A", pairs.get(0).rejected());
      assertEquals(" B", pairs.get(1).rejected());
    }
  }

  @Test
  void rejectedLettersAreSeededUniformAndNeverTheChosenOne() {
    SurveyQuestion economy = question("How good is the economy?", ECONOMY.options(),
        "Germany", List.of(0.1, 0.2, 0.6, 0.1));
    Map<String, Integer> counts = new TreeMap<>();
    int seeds = 600;
    for (long seed = 0; seed < seeds; seed++) {
      SurveyPair pair = SurveyPairs.build(List.of(economy), "", seed).pairs().getFirst();
      assertEquals("C", pair.chosen());
      assertNotEquals(pair.chosen(), pair.rejected());
      counts.merge(pair.rejected(), 1, Integer::sum);
    }
    assertEquals(Set.of("A", "B", "D"), counts.keySet());
    for (int n : counts.values()) {
      // Expected 200 each; 6 standard deviations (about 11.5 each) either side.
      assertTrue(n > 130 && n < 270, "rejected letters should be uniform over the other options: " + counts);
    }

    List<SurveyQuestion> many = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      many.add(question("Question " + i, ECONOMY.options(), "Germany", List.of(0.1, 0.2, 0.6, 0.1)));
    }
    List<String> first = rejected(SurveyPairs.build(many, " ", 11));
    assertEquals(first, rejected(SurveyPairs.build(many, " ", 11)), "same seed, same letters");
    assertNotEquals(first, rejected(SurveyPairs.build(many, " ", 12)), "another seed, other letters");
  }

  @Test
  void aGroupsLettersDoNotDependOnTheOtherGroups() {
    List<SurveyQuestion> both = List.of(ECONOMY, DEATH_PENALTY, ECONOMY, ECONOMY);
    List<SurveyQuestion> franceOnly = both.stream().map(q -> q.onlyGroups(Set.of("France"))).toList();
    List<SurveyPair> all = SurveyPairs.build(both, " ", 5).pairs();
    assertEquals(all.stream().filter(p -> p.group().equals("France")).toList(),
        SurveyPairs.build(franceOnly, " ", 5).pairs());
  }

  @Test
  void letterPrefixGoesBeforeEveryResponse() {
    SurveyPair bare = SurveyPairs.build(List.of(DEATH_PENALTY), "", 0).pairs().getFirst();
    assertEquals("B", bare.chosen());
    assertEquals("A", bare.rejected());
    SurveyPair spaced = SurveyPairs.build(List.of(DEATH_PENALTY), SurveyPairs.DEFAULT_LETTER_PREFIX, 0).pairs()
        .getFirst();
    assertEquals(" B", spaced.chosen());
    assertEquals(" A", spaced.rejected());
  }

  @Test
  void questionsWithoutTwoOptionsOrAnswersAreSkippedAndCounted() {
    List<String> letters = new ArrayList<>();
    for (int i = 0; i < 27; i++) {
      letters.add("option " + i);
    }
    List<Double> shares = new ArrayList<>(Collections.nCopies(27, 1.0));
    SurveyQuestion tooMany = question("Pick one", letters, "Germany", shares);
    SurveyPairs.Built built = SurveyPairs.build(List.of(ONE_OPTION, NO_ANSWERS, DEATH_PENALTY, tooMany), " ", 0);
    assertEquals(new SurveyPairs.Skipped(2, 1, 2), built.skipped());
    assertEquals(5, built.skipped().total());
    assertEquals(2, built.pairs().size());
    assertEquals(List.of(2, 2), built.pairs().stream().map(SurveyPair::questionIndex).toList());
  }

  @Test
  void lettersRunFromAToZ() {
    assertEquals("A", SurveyPairs.letter(0));
    assertEquals("Z", SurveyPairs.letter(25));
    assertThrows(IllegalArgumentException.class, () -> SurveyPairs.letter(26));
    assertThrows(IllegalArgumentException.class, () -> SurveyPairs.letter(-1));
  }

  @Test
  void questionsCheckTheirShares() {
    IllegalArgumentException mismatch = assertThrows(IllegalArgumentException.class, () -> new SurveyQuestion(
        "q.json:4", "Q?", List.of("Yes", "No"), Map.of("Germany", List.of(0.2, 0.3, 0.5))));
    assertEquals("q.json:4: group \"Germany\" has 3 shares for 2 options [Yes, No]; each group needs one share per "
        + "option, in option order", mismatch.getMessage());
    IllegalArgumentException negative = assertThrows(IllegalArgumentException.class, () -> new SurveyQuestion(
        "q.json:5", "Q?", List.of("Yes", "No"), Map.of("Germany", List.of(0.2, -0.3))));
    assertEquals("q.json:5: group \"Germany\" has share -0.3 for option 2 (\"No\"); shares must be finite and >= 0",
        negative.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new SurveyQuestion("q", "Q?", List.of("Yes", "No"),
        Map.of("Germany", List.of(Double.NaN, 0.3))));
    assertThrows(IllegalArgumentException.class, () -> new SurveyQuestion("q", "Q?", List.of("Yes", "No"),
        Map.of(" ", List.of(0.7, 0.3))));
  }

  private static List<String> rejected(SurveyPairs.Built built) {
    return built.pairs().stream().map(SurveyPair::rejected).toList();
  }
}
