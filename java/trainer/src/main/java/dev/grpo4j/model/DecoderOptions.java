package dev.grpo4j.model;

import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * How a family's decoder differs from Llama's: what {@link TransformerLm} reads, layer by layer. A family
 * ({@code dev.grpo4j.model.family}) starts from {@link #llama} and changes what its {@code config.json} says.
 *
 * @param norm how an RMSNorm applies its weight
 * @param placement where a layer's norms sit
 * @param qkNorm RMSNorm on queries and keys before the rotation
 * @param activation the gate's activation in the gated MLP
 * @param fusedProjections q/k/v as one {@code qkv_proj} and gate/up as one {@code gate_up_proj} (Phi-3)
 * @param qkvBias q/k/v projections have biases
 * @param outputBias the attention output projection has a bias
 * @param mlpBias gate/up/down projections have biases
 * @param embeddingScale factor on the token embeddings (1: none)
 * @param embeddingScaleInModelDtype the factor is rounded to the model's dtype first (Gemma's buffer)
 * @param attentionScale factor on {@code q.k} ({@code NaN}: {@code 1/sqrt(head_dim)})
 * @param attentionSoftcap {@code c tanh(s / c)} on the attention scores (0: none)
 * @param residualMultiplier factor on each block's output before the residual add
 * @param logitsMultiplier factor on the LM head's output
 * @param finalSoftcap {@code c tanh(z / c)} on the logits, after {@code logitsMultiplier} (0: none)
 * @param rotaryFraction share of each head's features the rotation turns ({@code partial_rotary_factor})
 * @param layers each layer's attention pattern and rotation
 * @param experts the mixture-of-experts MLP of the layers that have one, or null for a dense model
 */
public record DecoderOptions(NormStyle norm, NormPlacement placement, QkNorm qkNorm, Activation activation,
                             boolean fusedProjections, boolean qkvBias, boolean outputBias, boolean mlpBias,
                             double embeddingScale, boolean embeddingScaleInModelDtype, double attentionScale,
                             double attentionSoftcap, double residualMultiplier, double logitsMultiplier,
                             double finalSoftcap, double rotaryFraction, List<LayerAttention> layers,
                             Experts experts) {

  /** How an RMSNorm applies its weight {@code w} to {@code n = x / rms(x)} (computed in float32). */
  public enum NormStyle {
    /** {@code w * n.to(dtype)} (Llama). */
    WEIGHT_AFTER_CAST,
    /** {@code (w * n).to(dtype)} (OLMo 2). */
    WEIGHT_BEFORE_CAST,
    /** {@code (n * (1 + w)).to(dtype)}, weights initialised to 0 (Gemma). */
    ONE_PLUS_WEIGHT
  }

  /** Where a layer's RMSNorms sit around its attention and MLP blocks. */
  public enum NormPlacement {
    /** Before each block ({@code input_layernorm}, {@code post_attention_layernorm} before the MLP). */
    PRE,
    /** Before and after each block (Gemma 2 and 3: four norms). */
    SANDWICH,
    /** After each block, before its residual add (OLMo 2). */
    POST
  }

  /** RMSNorm on queries and keys. */
  public enum QkNorm {
    NONE,
    /** Over each head's {@code head_dim} features (Qwen3, Gemma 3). */
    PER_HEAD,
    /** Over the whole projection, all heads at once (OLMo 2). */
    WHOLE
  }

  /** The gated MLP's activation, {@code down(act(gate(x)) * up(x))}. */
  public enum Activation {
    SILU("silu"),
    GELU_TANH("gelu_pytorch_tanh");

    private final String hfName;

    Activation(String hfName) {
      this.hfName = hfName;
    }

    /** The activation of a {@code hidden_act} name. */
    public static Activation of(String name, String field) {
      for (Activation a : values()) {
        if (a.hfName.equals(name) || a == GELU_TANH && name.equals("gelu_new")) {
          return a;
        }
      }
      throw new IllegalArgumentException(field + " \"" + name + "\" is not supported: the gated MLP implements silu "
          + "and gelu_pytorch_tanh");
    }
  }

  /**
   * A mixture-of-experts MLP: a router {@code gate} {@code [E, H]} scores the experts with a float32 softmax, each
   * position goes through its {@code topK} best (their probabilities renormalised to sum 1 when
   * {@code normalizeTopK}), each expert a gated MLP of width {@code intermediate}, and the outputs are summed with
   * those weights (rounded to the model's dtype first when {@code weightsInModelDtype}).
   *
   * @param count experts per sparse layer
   * @param topK experts per position
   * @param intermediate each expert's MLP width
   * @param normalizeTopK renormalise the chosen probabilities
   * @param weightsInModelDtype the routing weights are cast to the model's dtype before use (Qwen3-MoE; Mixtral keeps
   *     them in float32)
   * @param block the MLP's module name ({@code mlp}, Mixtral's {@code block_sparse_moe})
   * @param names the experts' gate, up and down projection names ({@code gate_proj, up_proj, down_proj}; Mixtral's
   *     {@code w1, w3, w2})
   * @param sparse per layer, whether it has the experts (else a dense MLP of the model's {@code intermediate_size})
   */
  public record Experts(int count, int topK, int intermediate, boolean normalizeTopK, boolean weightsInModelDtype,
                        String block, List<String> names, List<Boolean> sparse) {
    public Experts {
      if (count < 1 || topK < 1 || topK > count) {
        throw new IllegalArgumentException("num_experts_per_tok = " + topK + " with " + count + " experts: must be "
            + "in [1, experts]");
      }
      if (intermediate < 1) {
        throw new IllegalArgumentException("moe_intermediate_size = " + intermediate + ": must be >= 1");
      }
      names = List.copyOf(names);
      sparse = List.copyOf(sparse);
    }
  }

  /**
   * One layer's attention pattern.
   *
   * @param slidingWindow a query sees the keys of the last {@code slidingWindow} positions, itself included (0: every
   *     earlier position)
   * @param rope the rotation of its queries and keys, or null for none (NoPE)
   */
  public record LayerAttention(int slidingWindow, Rope rope) {
    public LayerAttention {
      if (slidingWindow < 0) {
        throw new IllegalArgumentException("sliding_window = " + slidingWindow + ": must be >= 1");
      }
    }
  }

  public DecoderOptions {
    Objects.requireNonNull(norm, "norm");
    Objects.requireNonNull(placement, "placement");
    Objects.requireNonNull(qkNorm, "qkNorm");
    Objects.requireNonNull(activation, "activation");
    layers = List.copyOf(layers);
    if (!(rotaryFraction > 0 && rotaryFraction <= 1)) {
      throw new IllegalArgumentException("partial_rotary_factor = " + rotaryFraction + ": must be in (0, 1]");
    }
    requireSoftcap("attn_logit_softcapping", attentionSoftcap);
    requireSoftcap("final_logit_softcapping", finalSoftcap);
  }

  /** Llama's decoder of {@code layers} layers with full causal attention, every layer rotated by {@code rope}. */
  public static DecoderOptions llama(int layers, Rope rope, boolean attentionBias, boolean mlpBias) {
    return new DecoderOptions(NormStyle.WEIGHT_AFTER_CAST, NormPlacement.PRE, QkNorm.NONE, Activation.SILU, false,
        attentionBias, attentionBias, mlpBias, 1, false, Double.NaN, 0, 1, 1, 0, 1,
        Collections.nCopies(layers, new LayerAttention(0, rope)), null);
  }

  private static void requireSoftcap(String field, double cap) {
    if (!(cap >= 0) || Double.isInfinite(cap)) {
      throw new IllegalArgumentException(field + " = " + cap + ": must be > 0, or null for none");
    }
  }

  /** Features of each head that the rotation turns, for heads of {@code headDim}. */
  public int rotaryDim(int headDim) {
    return (int) (headDim * rotaryFraction);
  }

  public DecoderOptions withNorm(NormStyle style, NormPlacement where) {
    return new DecoderOptions(style, where, qkNorm, activation, fusedProjections, qkvBias, outputBias, mlpBias,
        embeddingScale, embeddingScaleInModelDtype, attentionScale, attentionSoftcap, residualMultiplier,
        logitsMultiplier, finalSoftcap, rotaryFraction, layers, experts);
  }

  public DecoderOptions withQkNorm(QkNorm where) {
    return new DecoderOptions(norm, placement, where, activation, fusedProjections, qkvBias, outputBias, mlpBias,
        embeddingScale, embeddingScaleInModelDtype, attentionScale, attentionSoftcap, residualMultiplier,
        logitsMultiplier, finalSoftcap, rotaryFraction, layers, experts);
  }

  public DecoderOptions withActivation(Activation act) {
    return new DecoderOptions(norm, placement, qkNorm, act, fusedProjections, qkvBias, outputBias, mlpBias,
        embeddingScale, embeddingScaleInModelDtype, attentionScale, attentionSoftcap, residualMultiplier,
        logitsMultiplier, finalSoftcap, rotaryFraction, layers, experts);
  }

  /** Fused {@code qkv_proj} and {@code gate_up_proj}, rotating {@code fraction} of each head. */
  public DecoderOptions withFusedProjections(double fraction) {
    return new DecoderOptions(norm, placement, qkNorm, activation, true, qkvBias, outputBias, mlpBias,
        embeddingScale, embeddingScaleInModelDtype, attentionScale, attentionSoftcap, residualMultiplier,
        logitsMultiplier, finalSoftcap, fraction, layers, experts);
  }

  public DecoderOptions withBiases(boolean qkv, boolean output, boolean mlp) {
    return new DecoderOptions(norm, placement, qkNorm, activation, fusedProjections, qkv, output, mlp,
        embeddingScale, embeddingScaleInModelDtype, attentionScale, attentionSoftcap, residualMultiplier,
        logitsMultiplier, finalSoftcap, rotaryFraction, layers, experts);
  }

  public DecoderOptions withEmbeddingScale(double scale, boolean inModelDtype) {
    return new DecoderOptions(norm, placement, qkNorm, activation, fusedProjections, qkvBias, outputBias, mlpBias,
        scale, inModelDtype, attentionScale, attentionSoftcap, residualMultiplier, logitsMultiplier, finalSoftcap,
        rotaryFraction, layers, experts);
  }

  /** Attention scores {@code scale * q.k}, soft-capped at {@code softcap} (0: not). */
  public DecoderOptions withAttention(double scale, double softcap) {
    return new DecoderOptions(norm, placement, qkNorm, activation, fusedProjections, qkvBias, outputBias, mlpBias,
        embeddingScale, embeddingScaleInModelDtype, scale, softcap, residualMultiplier, logitsMultiplier,
        finalSoftcap, rotaryFraction, layers, experts);
  }

  public DecoderOptions withResidualMultiplier(double multiplier) {
    return new DecoderOptions(norm, placement, qkNorm, activation, fusedProjections, qkvBias, outputBias, mlpBias,
        embeddingScale, embeddingScaleInModelDtype, attentionScale, attentionSoftcap, multiplier, logitsMultiplier,
        finalSoftcap, rotaryFraction, layers, experts);
  }

  /** Logits {@code softcap tanh(multiplier * z / softcap)} (softcap 0: {@code multiplier * z}). */
  public DecoderOptions withLogits(double multiplier, double softcap) {
    return new DecoderOptions(norm, placement, qkNorm, activation, fusedProjections, qkvBias, outputBias, mlpBias,
        embeddingScale, embeddingScaleInModelDtype, attentionScale, attentionSoftcap, residualMultiplier,
        multiplier, softcap, rotaryFraction, layers, experts);
  }

  /** The same decoder with {@code moe} as the MLP of its sparse layers. */
  public DecoderOptions withExperts(Experts moe) {
    if (moe.sparse().size() != layers.size()) {
      throw new IllegalArgumentException(moe.sparse().size() + " expert settings for " + layers.size() + " layers");
    }
    return new DecoderOptions(norm, placement, qkNorm, activation, fusedProjections, qkvBias, outputBias, mlpBias,
        embeddingScale, embeddingScaleInModelDtype, attentionScale, attentionSoftcap, residualMultiplier,
        logitsMultiplier, finalSoftcap, rotaryFraction, layers, moe);
  }

  public DecoderOptions withLayers(List<LayerAttention> perLayer) {
    if (perLayer.size() != layers.size()) {
      throw new IllegalArgumentException(perLayer.size() + " layer settings for " + layers.size() + " layers");
    }
    return new DecoderOptions(norm, placement, qkNorm, activation, fusedProjections, qkvBias, outputBias, mlpBias,
        embeddingScale, embeddingScaleInModelDtype, attentionScale, attentionSoftcap, residualMultiplier,
        logitsMultiplier, finalSoftcap, rotaryFraction, perLayer, experts);
  }
}
