package dev.grpo4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * The demo's synthetic multi-group preference data: four labeller groups of very different sizes answer the same
 * survey questions, agree on some and disagree on the others, the situation of Ramesh et al. (2024) in which
 * plain DPO serves the majority.
 *
 * <p>Every question has the same four candidate answers ({@link #ANSWERS}). Each question has a base ranking of
 * the answers (a seeded random permutation). On a <em>shared</em> question every group ranks the answers that way;
 * on a <em>contested</em> question group g ranks them by the base ranking rotated by g places, so each group puts
 * a different answer first. As in the paper's opinion experiments, the prompt names the group
 * ({@code "g2:kqzvm="}), so one policy can in principle serve every group; what it learns within a budget depends
 * on how the objective weighs the groups.
 *
 * <p>A pair compares two answers to one question, chosen = the one the pair's group ranks higher. The training
 * split holds, per group, only comparisons of neighbours in that group's ranking (first vs second, second vs third,
 * third vs fourth), drawn in the proportions {@link #GROUP_SHARES}; the validation split holds each of those
 * neighbour comparisons once, for every group and question (the training distribution with the groups balanced,
 * which is what a worst-group objective is about); the test split holds every comparison of answers two or three
 * places apart, for every group and question. The test order follows from the trained one by transitivity
 * (a &gt; b &gt; c gives a &gt; c): a model that learned a group's ranking of a question, rather than memorised its
 * pairs, gets the test pairs right.
 *
 * <p>Everything is a function of the seed: the same seed gives the same questions, rankings and pairs.
 */
public final class DemoData {
  /** Share of the training pairs per group: one majority, three minorities. */
  public static final List<Double> GROUP_SHARES = List.of(0.60, 0.25, 0.10, 0.05);
  /** The candidate answers of every question, short byte strings ending in a newline (end of response). */
  public static final List<String> ANSWERS = List.of("yes\n", "no\n", "maybe\n", "never\n");

  private static final int QUESTION_LETTERS = 5;
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Size of a generated data set.
   *
   * @param questions questions in the shared prompt set
   * @param contested how many of them are contested (the first ones generated; the order carries no meaning)
   * @param trainPairs training pairs over all groups, split by {@link #GROUP_SHARES}
   */
  public record Size(int questions, int contested, int trainPairs) {
    public Size {
      if (questions < 1 || contested < 0 || contested > questions) {
        throw new IllegalArgumentException("need questions >= 1 and 0 <= contested <= questions, got " + questions
            + " questions, " + contested + " contested");
      }
      if (trainPairs < GROUP_SHARES.size() * 20) {
        throw new IllegalArgumentException("trainPairs = " + trainPairs + ": need at least "
            + GROUP_SHARES.size() * 20 + " so the smallest group has a handful of pairs");
      }
    }
  }

  /** The demo's default size: 24 questions, half contested, 3000 training pairs. */
  public static final Size DEFAULT_SIZE = new Size(24, 12, 3000);

  /**
   * One question of the shared prompt set.
   *
   * @param text the question's bytes (lowercase letters)
   * @param contested whether the groups rank its answers differently
   * @param baseRanking answer indices, best first, as the shared ranking (group 0's on contested questions)
   */
  public record Question(String text, boolean contested, List<Integer> baseRanking) {
    public Question {
      baseRanking = List.copyOf(baseRanking);
    }
  }

  /**
   * One preference pair.
   *
   * @param group labeller group in {@code [0, K)}
   * @param question index into {@link #questions()}
   * @param prompt the prompt bytes, group tag included
   * @param chosen the answer the group prefers
   * @param rejected the other answer
   */
  public record Pair(int group, int question, String prompt, String chosen, String rejected) {}

  private final List<Question> questions;
  private final List<Pair> train;
  private final List<Pair> validation;
  private final List<Pair> test;
  private final long[] trainGroupSizes;

  private DemoData(List<Question> questions, List<Pair> train, List<Pair> validation, List<Pair> test,
                   long[] trainGroupSizes) {
    this.questions = List.copyOf(questions);
    this.train = List.copyOf(train);
    this.validation = List.copyOf(validation);
    this.test = List.copyOf(test);
    this.trainGroupSizes = trainGroupSizes;
  }

  /** The default-size data set for {@code seed}. */
  public static DemoData generate(long seed) {
    return generate(seed, DEFAULT_SIZE);
  }

  /** A data set of the given size for {@code seed}. */
  public static DemoData generate(long seed, Size size) {
    Random rng = new Random(seed);
    List<Question> questions = new ArrayList<>();
    Set<String> texts = new HashSet<>();
    while (questions.size() < size.questions()) {
      String text = randomLetters(rng);
      if (!texts.add(text)) {
        continue;
      }
      List<Integer> ranking = new ArrayList<>(List.of(0, 1, 2, 3));
      Collections.shuffle(ranking, rng);
      questions.add(new Question(text, questions.size() < size.contested(), ranking));
    }

    int groups = GROUP_SHARES.size();
    long[] groupSizes = groupSizes(size.trainPairs());
    List<Pair> train = new ArrayList<>();
    for (int g = 0; g < groups; g++) {
      for (long i = 0; i < groupSizes[g]; i++) {
        int q = rng.nextInt(questions.size());
        List<Integer> ranking = ranking(questions.get(q), g);
        int place = rng.nextInt(ranking.size() - 1);
        train.add(pair(questions, g, q, ranking.get(place), ranking.get(place + 1)));
      }
    }
    // Shuffled so that a prefix of the split (e.g. for a quick look) holds every group.
    Collections.shuffle(train, rng);

    List<Pair> validation = new ArrayList<>();
    List<Pair> test = new ArrayList<>();
    for (int g = 0; g < groups; g++) {
      for (int q = 0; q < questions.size(); q++) {
        List<Integer> ranking = ranking(questions.get(q), g);
        for (int hi = 0; hi < ranking.size(); hi++) {
          for (int lo = hi + 1; lo < ranking.size(); lo++) {
            (lo == hi + 1 ? validation : test).add(pair(questions, g, q, ranking.get(hi), ranking.get(lo)));
          }
        }
      }
    }
    return new DemoData(questions, train, validation, test, groupSizes);
  }

  /**
   * Writes the three splits as JSON Lines ({@code prompt}, {@code chosen}, {@code rejected}, {@code group}) into
   * {@code folder}: {@code train.jsonl}, {@code validation.jsonl} and {@code test.jsonl}, the files {@code grpo4j
   * train} reads.
   *
   * @return the three files, in that order
   */
  public List<Path> writeJsonl(Path folder) throws IOException {
    Files.createDirectories(folder);
    return List.of(writeJsonl(folder.resolve("train.jsonl"), train),
        writeJsonl(folder.resolve("validation.jsonl"), validation), writeJsonl(folder.resolve("test.jsonl"), test));
  }

  private static Path writeJsonl(Path file, List<Pair> pairs) throws IOException {
    try (BufferedWriter out = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      for (Pair p : pairs) {
        ObjectNode record = JSON.createObjectNode().put("prompt", p.prompt()).put("chosen", p.chosen())
            .put("rejected", p.rejected()).put("group", groupName(p.group()));
        out.write(JSON.writeValueAsString(record));
        out.write('\n');
      }
    }
    return file;
  }

  /** Number of groups K. */
  public int groups() {
    return GROUP_SHARES.size();
  }

  public List<Question> questions() {
    return questions;
  }

  public List<Pair> train() {
    return train;
  }

  public List<Pair> validation() {
    return validation;
  }

  public List<Pair> test() {
    return test;
  }

  /** Training pairs per group {@code N_g}, as the loss's DATASET_FREQUENCY normalisation needs them. */
  public long[] trainGroupSizes() {
    return trainGroupSizes.clone();
  }

  /** The prompt group {@code group} is asked for question {@code question}: group tag, question, separator. */
  public String prompt(int group, int question) {
    return prompt(questions, group, question);
  }

  /** Answer indices, best first, as group {@code group} ranks them for question {@code question}. */
  public List<Integer> ranking(int group, int question) {
    return ranking(questions.get(question), group);
  }

  /** Display name of a group. */
  public static String groupName(int group) {
    return "g" + group;
  }

  private static String prompt(List<Question> questions, int group, int question) {
    return groupName(group) + ":" + questions.get(question).text() + "=";
  }

  private static List<Integer> ranking(Question q, int group) {
    if (!q.contested()) {
      return q.baseRanking();
    }
    List<Integer> rotated = new ArrayList<>(q.baseRanking());
    Collections.rotate(rotated, -group);
    return rotated;
  }

  private static Pair pair(List<Question> questions, int group, int question, int a, int b) {
    List<Integer> ranking = ranking(questions.get(question), group);
    boolean aFirst = ranking.indexOf(a) < ranking.indexOf(b);
    int chosen = aFirst ? a : b;
    int rejected = aFirst ? b : a;
    return new Pair(group, question, prompt(questions, group, question), ANSWERS.get(chosen), ANSWERS.get(rejected));
  }

  /** Training-pair counts by largest remainder, so they sum to {@code total} exactly. */
  private static long[] groupSizes(int total) {
    int k = GROUP_SHARES.size();
    long[] sizes = new long[k];
    double[] remainder = new double[k];
    long assigned = 0;
    for (int g = 0; g < k; g++) {
      double exact = GROUP_SHARES.get(g) * total;
      sizes[g] = (long) Math.floor(exact);
      remainder[g] = exact - sizes[g];
      assigned += sizes[g];
    }
    while (assigned < total) {
      int best = 0;
      for (int g = 1; g < k; g++) {
        if (remainder[g] > remainder[best]) {
          best = g;
        }
      }
      sizes[best]++;
      remainder[best] = -1;
      assigned++;
    }
    return sizes;
  }

  private static String randomLetters(Random rng) {
    StringBuilder sb = new StringBuilder(QUESTION_LETTERS);
    for (int i = 0; i < QUESTION_LETTERS; i++) {
      sb.append((char) ('a' + rng.nextInt(26)));
    }
    return sb.toString();
  }
}
