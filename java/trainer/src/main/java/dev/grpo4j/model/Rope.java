package dev.grpo4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * Rotary position embedding: {@code inv_freq[j] = theta^(-2j/dim)} over the {@code dim} rotated features of a head,
 * rescaled by the {@code rope_scaling} variants checkpoints use.
 *
 * @param theta base ({@code rope_theta})
 * @param type {@code "default"}, {@code "linear"}, {@code "llama3"} or {@code "longrope"}
 * @param factor scaling factor (linear and llama3)
 * @param lowFreqFactor llama3's {@code low_freq_factor}
 * @param highFreqFactor llama3's {@code high_freq_factor}
 * @param originalMaxPositions llama3's and longrope's {@code original_max_position_embeddings}
 * @param shortFactor longrope's per-frequency divisors for rows up to {@code originalMaxPositions} (else empty)
 * @param longFactor longrope's divisors for longer rows (else empty)
 * @param attentionScaling factor on cos and sin (longrope's {@code attention_factor}; 1 for the others)
 */
public record Rope(double theta, String type, double factor, double lowFreqFactor, double highFreqFactor,
                   int originalMaxPositions, List<Double> shortFactor, List<Double> longFactor,
                   double attentionScaling) {
  public Rope {
    if (!(theta > 0)) {
      throw new IllegalArgumentException("rope_theta = " + theta + ": must be > 0");
    }
    shortFactor = List.copyOf(shortFactor);
    longFactor = List.copyOf(longFactor);
  }

  /** A rotation without longrope's factors. */
  public Rope(double theta, String type, double factor, double lowFreqFactor, double highFreqFactor,
              int originalMaxPositions) {
    this(theta, type, factor, lowFreqFactor, highFreqFactor, originalMaxPositions, List.of(), List.of(), 1);
  }

  /** Unscaled rotary embedding with base {@code theta}. */
  public static Rope standard(double theta) {
    return new Rope(theta, "default", 1, 1, 1, 0);
  }

  /**
   * The rotary embedding a {@code config.json} describes: transformers 5's {@code rope_parameters} or the older
   * {@code rope_theta} + {@code rope_scaling}.
   */
  public static Rope read(ConfigJson json) {
    ConfigJson params = json.object("rope_parameters");
    ConfigJson scaling = params != null ? params : json.object("rope_scaling");
    double theta = params != null && params.has("rope_theta")
        ? params.number("rope_theta", 10000.0) : json.number("rope_theta", 10000.0);
    return scaling == null ? standard(theta) : of(scaling, theta, json);
  }

  /**
   * The rotary embedding of one {@code rope_parameters} object, {@code theta} when it names no base; {@code config}
   * gives longrope's {@code max_position_embeddings} and {@code original_max_position_embeddings} when the object
   * does not.
   */
  public static Rope of(ConfigJson s, double theta, ConfigJson config) {
    double base = s.number("rope_theta", theta);
    String type = s.has("rope_type") ? s.text("rope_type", "default") : s.text("type", "default");
    return switch (type) {
      case "default" -> standard(base);
      case "linear" -> new Rope(base, type, s.number("factor", null), 1, 1, 0);
      case "llama3" -> new Rope(base, type, s.number("factor", null), s.number("low_freq_factor", null),
          s.number("high_freq_factor", null), s.integer("original_max_position_embeddings", null));
      case "longrope" -> longrope(s, base, config);
      default -> throw new IllegalArgumentException("rope_scaling type \"" + type + "\" is not supported: grpo4j "
          + "implements default, linear, llama3 and longrope rotary scaling");
    };
  }

  /**
   * LongRoPE (Phi-3 128k, Phi-3.5, Phi-4-mini): the frequencies divided by {@code short_factor} while a batch's rows
   * are at most {@code original_max_position_embeddings} long, by {@code long_factor} beyond, cos and sin scaled by
   * {@code attention_factor} (default {@code sqrt(1 + ln(factor) / ln(original))}, factor defaulting to
   * {@code max_position_embeddings / original}).
   */
  private static Rope longrope(ConfigJson s, double base, ConfigJson config) {
    int original = s.integer("original_max_position_embeddings",
        config.integer("original_max_position_embeddings", null));
    double factor = s.number("factor", config.integer("max_position_embeddings", 2048) / (double) original);
    double attention = s.number("attention_factor",
        factor <= 1 ? 1.0 : Math.sqrt(1 + Math.log(factor) / Math.log(original)));
    return new Rope(base, "longrope", factor, 1, 1, original, factors(s, "short_factor"), factors(s, "long_factor"),
        attention);
  }

  private static List<Double> factors(ConfigJson s, String field) {
    JsonNode v = s.node().get(field);
    if (v == null || !v.isArray() || v.isEmpty()) {
      throw new IllegalArgumentException("rope_scaling " + field + " must be a list of numbers, one per rotated pair");
    }
    List<Double> out = new ArrayList<>();
    v.forEach(e -> out.add(e.asDouble()));
    return out;
  }

  /** The inverse frequencies of the {@code dim / 2} rotated pairs for rows of any length up to the original. */
  public double[] inverseFrequencies(int dim) {
    return inverseFrequencies(dim, 1);
  }

  /** The inverse frequencies of the {@code dim / 2} rotated pairs for a batch of {@code seqLen}-position rows. */
  public double[] inverseFrequencies(int dim, long seqLen) {
    double[] inv = new double[dim / 2];
    for (int j = 0; j < inv.length; j++) {
      inv[j] = 1.0 / Math.pow(theta, 2.0 * j / dim);
    }
    switch (type) {
      case "longrope" -> {
        List<Double> divisors = seqLen > originalMaxPositions ? longFactor : shortFactor;
        if (divisors.size() != inv.length) {
          throw new IllegalArgumentException("rope_scaling has " + divisors.size() + " factors for " + inv.length
              + " rotated pairs (head_dim x partial_rotary_factor / 2)");
        }
        for (int j = 0; j < inv.length; j++) {
          inv[j] /= divisors.get(j);
        }
      }
      case "linear" -> {
        for (int j = 0; j < inv.length; j++) {
          inv[j] /= factor;
        }
      }
      case "llama3" -> {
        // Long wavelengths are slowed down by the factor, short ones kept, the band between interpolated.
        double lowWavelen = originalMaxPositions / lowFreqFactor;
        double highWavelen = originalMaxPositions / highFreqFactor;
        for (int j = 0; j < inv.length; j++) {
          double wavelen = 2 * Math.PI / inv[j];
          if (wavelen > lowWavelen) {
            inv[j] /= factor;
          } else if (wavelen >= highWavelen) {
            double smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
            inv[j] = (1 - smooth) * inv[j] / factor + smooth * inv[j];
          }
        }
      }
      default -> { }
    }
    return inv;
  }
}
