package dev.grpo4j.survey;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * Splits items into train, validation and test per group, so that every group keeps its share in each part.
 *
 * <p>Each group's items are shuffled (Fisher-Yates with the group's {@code "split"} generator of
 * {@link GroupRandom}, over the group's items in input order) and cut into train, validation and test by
 * {@link #sizes}. Every part lists its items in input order, not shuffled, so that the output follows the input.
 */
public final class StratifiedSplit {
  private StratifiedSplit() {}

  /**
   * The parts' percentages.
   *
   * @param train percent of each group's items for training, >= 0
   * @param validation percent for validation, >= 0
   * @param test percent for testing, >= 0; the three add up to 100
   */
  public record Fractions(double train, double validation, double test) {
    /** The paper's 80/10/10. */
    public static final Fractions DEFAULT = new Fractions(80, 10, 10);

    public Fractions {
      if (!(train >= 0 && validation >= 0 && test >= 0) || !Double.isFinite(train + validation + test)) {
        throw new IllegalArgumentException("split " + text(train, validation, test) + ": percentages must be "
            + "finite and >= 0, e.g. 80,10,10");
      }
      if (Math.abs(train + validation + test - 100) > 1e-9) {
        throw new IllegalArgumentException("split " + text(train, validation, test) + ": the train, validation and "
            + "test percentages must add up to 100, not " + number(train + validation + test) + ", e.g. 80,10,10");
      }
    }

    /**
     * Reads {@code TRAIN,VALIDATION,TEST} percentages such as {@code 80,10,10}.
     *
     * @throws IllegalArgumentException if there are not three numbers, one is negative, or they do not add up to 100
     */
    public static Fractions parse(String text) {
      String[] parts = text.split(",", -1);
      if (parts.length != 3) {
        throw new IllegalArgumentException("'" + text + "': expected three comma-separated percentages "
            + "TRAIN,VALIDATION,TEST that add up to 100, e.g. 80,10,10");
      }
      double[] values = new double[3];
      for (int i = 0; i < 3; i++) {
        try {
          values[i] = Double.parseDouble(parts[i].strip());
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("'" + text + "': '" + parts[i].strip() + "' is not a number; expected "
              + "three percentages TRAIN,VALIDATION,TEST, e.g. 80,10,10");
        }
      }
      return new Fractions(values[0], values[1], values[2]);
    }

    /** The smallest group that gets a pair in every part with a non-zero percentage. */
    public int minimumToSplit() {
      return (train > 0 ? 1 : 0) + (validation > 0 ? 1 : 0) + (test > 0 ? 1 : 0);
    }

    @Override
    public String toString() {
      return text(train, validation, test);
    }

    private static String text(double train, double validation, double test) {
      return number(train) + "," + number(validation) + "," + number(test);
    }

    private static String number(double x) {
      return x == Math.rint(x) && Math.abs(x) < 1e15 ? Long.toString((long) x) : Double.toString(x);
    }
  }

  /**
   * How many of a group's items go to each part.
   *
   * @param train items for training
   * @param validation items for validation
   * @param test items for testing
   * @param tooSmall the group had fewer than {@link Fractions#minimumToSplit()} items, so all went to train
   */
  public record Sizes(int train, int validation, int test, boolean tooSmall) {
    /** All items. */
    public int total() {
      return train + validation + test;
    }
  }

  /**
   * One group's counts.
   *
   * @param group the group's name
   * @param sizes its items per part
   */
  public record GroupCounts(String group, Sizes sizes) {}

  /**
   * The result of a split.
   *
   * @param train training items, in input order
   * @param validation validation items, in input order
   * @param test test items, in input order
   * @param groups per-group counts, by group name in {@link String#compareTo} order
   * @param <T> the item type
   */
  public record Split<T>(List<T> train, List<T> validation, List<T> test, List<GroupCounts> groups) {
    public Split {
      train = List.copyOf(train);
      validation = List.copyOf(validation);
      test = List.copyOf(test);
      groups = List.copyOf(groups);
    }
  }

  /**
   * Part sizes for a group of {@code n} items. Validation and test get {@code round(n * percent / 100)} (halves up),
   * at least 1 each when their percentage is not zero; train gets the rest, at least 1 when its percentage is not
   * zero (taken from the larger of validation and test, from validation on a tie). A group of fewer than
   * {@link Fractions#minimumToSplit()} items goes to train whole: 10 items at 80,10,10 give 8/1/1, 3 give 1/1/1, 2
   * give 2/0/0.
   */
  public static Sizes sizes(int n, Fractions fractions) {
    if (n < 0) {
      throw new IllegalArgumentException("n = " + n + ": must be >= 0");
    }
    if (n < fractions.minimumToSplit()) {
      boolean evaluated = fractions.validation() > 0 || fractions.test() > 0;
      return new Sizes(n, 0, 0, evaluated && n > 0);
    }
    int validation = part(n, fractions.validation());
    int test = part(n, fractions.test());
    int trainMinimum = fractions.train() > 0 ? 1 : 0;
    while (n - validation - test < trainMinimum) {
      // Terminates: n >= minimumToSplit leaves room for one item in every non-empty part.
      if (validation >= test && validation > 1) {
        validation--;
      } else {
        test--;
      }
    }
    return new Sizes(n - validation - test, validation, test, false);
  }

  private static int part(int n, double percent) {
    if (percent == 0) {
      return 0;
    }
    return (int) Math.max(1, Math.floor(n * percent / 100 + 0.5));
  }

  /**
   * Splits {@code items} per group.
   *
   * @param items the items, in input order
   * @param groupOf an item's group
   * @param fractions the parts' percentages
   * @param seed seed of the shuffles (see {@link GroupRandom})
   * @param <T> the item type
   * @return the parts and the per-group counts
   */
  public static <T> Split<T> split(List<T> items, Function<T, String> groupOf, Fractions fractions, long seed) {
    Objects.requireNonNull(fractions, "fractions");
    Map<String, List<Integer>> byGroup = new LinkedHashMap<>();
    for (int i = 0; i < items.size(); i++) {
      byGroup.computeIfAbsent(Objects.requireNonNull(groupOf.apply(items.get(i)), "group"), g -> new ArrayList<>())
          .add(i);
    }
    // 0 = train, 1 = validation, 2 = test.
    byte[] part = new byte[items.size()];
    Map<String, GroupCounts> counts = new TreeMap<>();
    for (Map.Entry<String, List<Integer>> e : byGroup.entrySet()) {
      int[] indices = e.getValue().stream().mapToInt(Integer::intValue).toArray();
      shuffle(indices, GroupRandom.of(seed, "split", e.getKey()));
      Sizes sizes = sizes(indices.length, fractions);
      for (int j = sizes.train(); j < indices.length; j++) {
        part[indices[j]] = (byte) (j < sizes.train() + sizes.validation() ? 1 : 2);
      }
      counts.put(e.getKey(), new GroupCounts(e.getKey(), sizes));
    }
    List<T> train = new ArrayList<>();
    List<T> validation = new ArrayList<>();
    List<T> test = new ArrayList<>();
    for (int i = 0; i < items.size(); i++) {
      (part[i] == 0 ? train : part[i] == 1 ? validation : test).add(items.get(i));
    }
    return new Split<>(train, validation, test, List.copyOf(counts.values()));
  }

  private static void shuffle(int[] a, SplittableRandom random) {
    for (int i = a.length - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }
}
