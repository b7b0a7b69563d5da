package dev.grpo4j.model;

/**
 * Rotary position embedding: {@code inv_freq[j] = theta^(-2j/dim)} over the {@code dim} rotated features of a head,
 * rescaled by the {@code rope_scaling} variants checkpoints use.
 *
 * @param theta base ({@code rope_theta})
 * @param type {@code "default"}, {@code "linear"} or {@code "llama3"}
 * @param factor scaling factor (linear and llama3)
 * @param lowFreqFactor llama3's {@code low_freq_factor}
 * @param highFreqFactor llama3's {@code high_freq_factor}
 * @param originalMaxPositions llama3's {@code original_max_position_embeddings}
 */
public record Rope(double theta, String type, double factor, double lowFreqFactor, double highFreqFactor,
                   int originalMaxPositions) {
  public Rope {
    if (!(theta > 0)) {
      throw new IllegalArgumentException("rope_theta = " + theta + ": must be > 0");
    }
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
    return scaling == null ? standard(theta) : of(scaling, theta);
  }

  /** The rotary embedding of one {@code rope_parameters} object, {@code theta} when it names no base. */
  public static Rope of(ConfigJson s, double theta) {
    double base = s.number("rope_theta", theta);
    String type = s.has("rope_type") ? s.text("rope_type", "default") : s.text("type", "default");
    return switch (type) {
      case "default" -> standard(base);
      case "linear" -> new Rope(base, type, s.number("factor", null), 1, 1, 0);
      case "llama3" -> new Rope(base, type, s.number("factor", null), s.number("low_freq_factor", null),
          s.number("high_freq_factor", null), s.integer("original_max_position_embeddings", null));
      default -> throw new IllegalArgumentException("rope_scaling type \"" + type + "\" is not supported: grpo4j "
          + "implements default, linear and llama3 rotary scaling");
    };
  }

  /** The inverse frequencies of the {@code dim / 2} rotated pairs. */
  public double[] inverseFrequencies(int dim) {
    double[] inv = new double[dim / 2];
    for (int j = 0; j < inv.length; j++) {
      inv[j] = 1.0 / Math.pow(theta, 2.0 * j / dim);
    }
    switch (type) {
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
