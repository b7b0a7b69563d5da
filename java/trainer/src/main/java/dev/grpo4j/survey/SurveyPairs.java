package dev.grpo4j.survey;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * Turns survey questions into preference pairs the way the GR-DPO paper built its GlobalOpinionQA data (Ramesh et
 * al. 2024; {@code global_opinion_data_processing.py} of its code): for every question and every group with answers,
 * the prompt asks for the group's opinion and lists the options with letters; the chosen response is the letter of
 * the group's most frequent answer and the rejected one is another letter drawn uniformly at random.
 *
 * <p>The prompt, exactly (no trailing newline; question and options are stripped of surrounding whitespace):
 *
 * <pre>
 * Opinion of people in {group} on: {question}
 * Please select the best response:
 * A. {option 1}
 * B. {option 2}
 * ...
 * Answer:</pre>
 *
 * The first three parts are the paper's code's; the {@code Answer:} line is ours, so that the response continues the
 * text naturally. A response is the letter prefix (by default a space, so {@code "Answer:" + " A"} reads as it would
 * be written and tokenizers that fold the space into the word see the usual token) followed by the letter.
 *
 * <p>Ties for the most frequent answer go to the lowest letter (the paper's {@code argsort} left ties to chance).
 * The rejected letter is drawn with the group's {@code "rejected"} generator of {@link GroupRandom}: one
 * {@code nextInt(k - 1)} per pair, in question order, indexing the other {@code k - 1} options in letter order.
 *
 * <p>Skipped, and counted: a question with fewer than 2 or more than {@value #MAX_OPTIONS} options, and a group whose
 * shares are missing, empty or all zero.
 */
public final class SurveyPairs {
  /** Options a prompt can letter, A to Z. */
  public static final int MAX_OPTIONS = 26;
  /** The default text before a response's letter. */
  public static final String DEFAULT_LETTER_PREFIX = " ";

  private SurveyPairs() {}

  /**
   * Question/group combinations that gave no pair.
   *
   * @param fewOptions combinations of a question with fewer than 2 options
   * @param manyOptions combinations of a question with more than {@value #MAX_OPTIONS} options
   * @param noAnswers groups with no shares, or only zeros, for a question
   */
  public record Skipped(int fewOptions, int manyOptions, int noAnswers) {
    /** All skipped combinations. */
    public int total() {
      return fewOptions + manyOptions + noAnswers;
    }
  }

  /**
   * The pairs of a set of questions.
   *
   * @param pairs in question order, and within a question in the order its groups are listed
   * @param skipped what gave no pair
   */
  public record Built(List<SurveyPair> pairs, Skipped skipped) {
    public Built {
      pairs = List.copyOf(pairs);
    }
  }

  /**
   * The prompt for {@code group}'s opinion on a question (format in the class comment).
   *
   * @throws IllegalArgumentException if there are more than {@value #MAX_OPTIONS} options
   */
  public static String prompt(String group, String question, List<String> options) {
    StringBuilder prompt = new StringBuilder("Opinion of people in ").append(group).append(" on: ")
        .append(question.strip()).append("\nPlease select the best response:");
    for (int i = 0; i < options.size(); i++) {
      prompt.append('\n').append(letter(i)).append(". ").append(options.get(i).strip());
    }
    return prompt.append("\nAnswer:").toString();
  }

  /**
   * The letter of the option at {@code index}: A for 0, B for 1, ...
   *
   * @throws IllegalArgumentException outside {@code 0..}{@value #MAX_OPTIONS}{@code -1}
   */
  public static String letter(int index) {
    if (index < 0 || index >= MAX_OPTIONS) {
      throw new IllegalArgumentException("option index " + index + ": only " + MAX_OPTIONS + " options (A-Z) can be "
          + "lettered");
    }
    return String.valueOf((char) ('A' + index));
  }

  /**
   * The index of the largest share, the lowest index among ties; -1 if there are no shares or all are zero.
   */
  public static int chosenIndex(List<Double> shares) {
    int best = -1;
    double bestShare = 0;
    for (int i = 0; i < shares.size(); i++) {
      if (shares.get(i) > bestShare) {
        best = i;
        bestShare = shares.get(i);
      }
    }
    return best;
  }

  /**
   * Every question's pairs, one per group with answers.
   *
   * @param questions the questions, in input order
   * @param letterPrefix text put before each response's letter, e.g. {@value #DEFAULT_LETTER_PREFIX} or empty
   * @param seed seed of the rejected letters (see {@link GroupRandom})
   * @return the pairs and the skipped counts
   */
  public static Built build(List<SurveyQuestion> questions, String letterPrefix, long seed) {
    Objects.requireNonNull(letterPrefix, "letterPrefix");
    Map<String, SplittableRandom> randoms = new HashMap<>();
    List<SurveyPair> pairs = new ArrayList<>();
    int fewOptions = 0;
    int manyOptions = 0;
    int noAnswers = 0;
    for (int q = 0; q < questions.size(); q++) {
      SurveyQuestion question = questions.get(q);
      int k = question.options().size();
      if (k < 2) {
        fewOptions += question.selections().size();
        continue;
      }
      if (k > MAX_OPTIONS) {
        manyOptions += question.selections().size();
        continue;
      }
      for (Map.Entry<String, List<Double>> e : question.selections().entrySet()) {
        String group = e.getKey();
        int chosen = chosenIndex(e.getValue());
        if (chosen < 0) {
          noAnswers++;
          continue;
        }
        SplittableRandom random = randoms.computeIfAbsent(group, g -> GroupRandom.of(seed, "rejected", g));
        int other = random.nextInt(k - 1);
        int rejected = other < chosen ? other : other + 1;
        pairs.add(new SurveyPair(prompt(group, question.question(), question.options()),
            letterPrefix + letter(chosen), letterPrefix + letter(rejected), group, q));
      }
    }
    return new Built(pairs, new Skipped(fewOptions, manyOptions, noAnswers));
  }
}
