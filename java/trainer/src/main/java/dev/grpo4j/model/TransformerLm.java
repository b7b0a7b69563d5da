package dev.grpo4j.model;

import dev.grpo4j.model.DecoderOptions.LayerAttention;
import dev.grpo4j.model.DecoderOptions.NormPlacement;
import dev.grpo4j.model.DecoderOptions.QkNorm;
import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.torch.CausalLm;
import dev.grpo4j.torch.LmHead;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.BiConsumer;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A decoder-only transformer on libtorch, in the shape every supported family shares: token embedding; per layer
 * RMSNorm'd grouped-query self-attention with rotary positions (rotate-half, as transformers applies it), residual,
 * a gated MLP, residual; final RMSNorm; LM head, tied to the embedding or not. What a family changes (norm placement
 * and style, q/k norms, activation, fused projections, attention scale, soft-caps, sliding windows, rotation per
 * layer, multipliers) comes from its {@link DecoderOptions}.
 *
 * <p>Parameter names are Hugging Face's ({@code model.layers.0.self_attn.q_proj.weight} ...), so checkpoints map one
 * to one ({@link #namedParameters()}).
 *
 * <p>Positions are {@code 0 .. T-1} in every row, as transformers uses them when no position ids are given. Rows
 * are normally right-padded, where the causal mask alone keeps padding from influencing real tokens; for left
 * padding pass an attention mask to {@link #forward(Tensor, Tensor)}. Dropouts of the checkpoint's config (attention,
 * residual) are not applied: preference training runs without them, as TRL's DPO does by default.
 *
 * <p>Thread safety: none; one training loop drives one model.
 */
public final class TransformerLm extends Module implements CausalLm {
  private final ModelConfig config;
  private final DecoderOptions options;
  private final AdapterSwitch adapters = new AdapterSwitch();
  private final Tensor embedding;
  private final List<DecoderLayer> layers;
  private final RmsNorm finalNorm;
  private final Projection lmHead;
  private final Map<String, Tensor> baseParameters;
  private final Map<String, Projection> projections;
  /**
   * The Java peers of the plain container modules ({@code model}, {@code layers.0}, {@code self_attn}, ...). They
   * must stay reachable as long as the model: libtorch's recursive calls ({@code train}, {@code eval}) reach every
   * registered module through its peer, and a collected peer makes them fail.
   */
  private final List<Module> containers = new ArrayList<>();

  /** One layer: a dense MLP or a mixture of experts (the other null); a norm its placement lacks is null. */
  private record DecoderLayer(Attention attention, Mlp mlp, MixtureOfExperts experts, RmsNorm inputNorm,
                              RmsNorm postAttentionNorm, RmsNorm preFeedforwardNorm, RmsNorm postFeedforwardNorm,
                              LayerAttention pattern) {}

  TransformerLm(ModelConfig config, ParameterFactory factory) {
    this.config = Objects.requireNonNull(config, "config");
    this.options = config.decoder();
    Parameters.keep(this);
    int h = config.hiddenSize();
    Map<String, Tensor> named = new LinkedHashMap<>();
    Map<String, Projection> linear = new LinkedHashMap<>();
    Module model = register_module("model", container());
    Module embed = model.register_module("embed_tokens", container());
    embedding = Parameters.register(embed, "weight", factory.normal(config.vocabSize(), h));
    named.put("model.embed_tokens.weight", embedding);
    Module layerList = model.register_module("layers", container());
    List<DecoderLayer> built = new ArrayList<>();
    for (int i = 0; i < config.numLayers(); i++) {
      String prefix = "model.layers." + i + ".";
      boolean sparse = options.experts() != null && options.experts().sparse().get(i);
      built.add(layer(layerList.register_module(Integer.toString(i), container()), prefix, factory,
          options.layers().get(i), sparse, named, linear));
    }
    layers = List.copyOf(built);
    finalNorm = model.register_module("norm", new RmsNorm(h, config.rmsNormEps(), options.norm(), factory));
    named.put("model.norm.weight", finalNorm.weight);
    lmHead = config.tieWordEmbeddings() ? null
        : register_module("lm_head", new Projection(h, config.vocabSize(), false, factory, adapters));
    if (lmHead != null) {
      named.put("lm_head.weight", lmHead.weight);
      linear.put("lm_head", lmHead);
    }
    baseParameters = Collections.unmodifiableMap(named);
    projections = Collections.unmodifiableMap(linear);
  }

  /**
   * Builds layer {@code prefix} under {@code layer}: attention projections and q/k norms, the MLP, then the norms, in
   * that order (transformers' registration order for Llama, which fixes the order of a seeded initialisation).
   */
  private DecoderLayer layer(Module layer, String prefix, ParameterFactory factory, LayerAttention attention,
                             boolean sparse, Map<String, Tensor> named, Map<String, Projection> linear) {
    int h = config.hiddenSize();
    int qWidth = config.numHeads() * config.headDim();
    int kvWidth = config.numKvHeads() * config.headDim();
    int inter = config.intermediateSize();
    boolean qkvBias = options.qkvBias();
    Module attn = layer.register_module("self_attn", container());
    Projection q = null;
    Projection k = null;
    Projection v = null;
    Projection qkv = null;
    if (options.fusedProjections()) {
      qkv = projection(attn, prefix + "self_attn.", "qkv_proj", h, qWidth + 2 * kvWidth, qkvBias, factory, named,
          linear);
    } else {
      q = projection(attn, prefix + "self_attn.", "q_proj", h, qWidth, qkvBias, factory, named, linear);
      k = projection(attn, prefix + "self_attn.", "k_proj", h, kvWidth, qkvBias, factory, named, linear);
      v = projection(attn, prefix + "self_attn.", "v_proj", h, kvWidth, qkvBias, factory, named, linear);
    }
    Projection o = projection(attn, prefix + "self_attn.", "o_proj", qWidth, h, options.outputBias(), factory, named,
        linear);
    boolean perHead = options.qkNorm() == QkNorm.PER_HEAD;
    RmsNorm qNorm = options.qkNorm() == QkNorm.NONE ? null
        : norm(attn, prefix + "self_attn.", "q_norm", perHead ? config.headDim() : qWidth, factory, named);
    RmsNorm kNorm = options.qkNorm() == QkNorm.NONE ? null
        : norm(attn, prefix + "self_attn.", "k_norm", perHead ? config.headDim() : kvWidth, factory, named);
    Mlp dense = null;
    MixtureOfExperts experts = null;
    if (sparse) {
      experts = experts(layer, prefix, factory, named);
    } else {
      Module mlp = layer.register_module("mlp", container());
      boolean mlpBias = options.mlpBias();
      Projection gate = null;
      Projection up = null;
      Projection gateUp = null;
      if (options.fusedProjections()) {
        gateUp = projection(mlp, prefix + "mlp.", "gate_up_proj", h, 2 * inter, mlpBias, factory, named, linear);
      } else {
        gate = projection(mlp, prefix + "mlp.", "gate_proj", h, inter, mlpBias, factory, named, linear);
        up = projection(mlp, prefix + "mlp.", "up_proj", h, inter, mlpBias, factory, named, linear);
      }
      dense = new Mlp(gate, up, gateUp, projection(mlp, prefix + "mlp.", "down_proj", inter, h, mlpBias, factory,
          named, linear));
    }
    NormPlacement placement = options.placement();
    RmsNorm inputNorm = placement == NormPlacement.POST ? null
        : norm(layer, prefix, "input_layernorm", h, factory, named);
    RmsNorm postAttentionNorm = norm(layer, prefix, "post_attention_layernorm", h, factory, named);
    RmsNorm preFeedforwardNorm = placement == NormPlacement.SANDWICH
        ? norm(layer, prefix, "pre_feedforward_layernorm", h, factory, named) : null;
    RmsNorm postFeedforwardNorm = placement == NormPlacement.PRE ? null
        : norm(layer, prefix, "post_feedforward_layernorm", h, factory, named);
    return new DecoderLayer(new Attention(q, k, v, qkv, o, qNorm, kNorm), dense, experts, inputNorm,
        postAttentionNorm, preFeedforwardNorm, postFeedforwardNorm, attention);
  }

  /**
   * A sparse layer's router and experts, under the family's Hugging Face names ({@code mlp.gate},
   * {@code mlp.experts.0.gate_proj} ...). They are not LoRA targets: PEFT on transformers 5 cannot adapt them either
   * (its experts are one 3-D parameter each, its router not a linear layer).
   */
  private MixtureOfExperts experts(Module layer, String prefix, ParameterFactory factory, Map<String, Tensor> named) {
    DecoderOptions.Experts spec = options.experts();
    int h = config.hiddenSize();
    String block = prefix + spec.block() + ".";
    Module moe = layer.register_module(spec.block(), container());
    Projection router = projection(moe, block, "gate", h, spec.count(), false, factory, named, new HashMap<>());
    Module list = moe.register_module("experts", container());
    List<Mlp> experts = new ArrayList<>();
    for (int e = 0; e < spec.count(); e++) {
      Module expert = list.register_module(Integer.toString(e), container());
      String name = block + "experts." + e + ".";
      Map<String, Projection> unused = new HashMap<>();
      Projection gate = projection(expert, name, spec.names().get(0), h, spec.intermediate(), false, factory, named,
          unused);
      Projection up = projection(expert, name, spec.names().get(1), h, spec.intermediate(), false, factory, named,
          unused);
      Projection down = projection(expert, name, spec.names().get(2), spec.intermediate(), h, false, factory, named,
          unused);
      experts.add(new Mlp(gate, up, null, down));
    }
    return new MixtureOfExperts(router, experts, spec);
  }

  private Projection projection(Module parent, String prefix, String name, int in, int out, boolean bias,
                                ParameterFactory factory, Map<String, Tensor> named,
                                Map<String, Projection> linear) {
    Projection p = parent.register_module(name, new Projection(in, out, bias, factory, adapters));
    named.put(prefix + name + ".weight", p.weight);
    if (p.bias != null) {
      named.put(prefix + name + ".bias", p.bias);
    }
    linear.put(prefix + name, p);
    return p;
  }

  private RmsNorm norm(Module parent, String prefix, String name, int width, ParameterFactory factory,
                       Map<String, Tensor> named) {
    RmsNorm n = parent.register_module(name, new RmsNorm(width, config.rmsNormEps(), options.norm(), factory));
    named.put(prefix + name + ".weight", n.weight);
    return n;
  }

  public ModelConfig config() {
    return config;
  }

  /**
   * The base model's parameters (no LoRA adapters) by Hugging Face name, in transformers' order; a tied LM head
   * is not listed, as transformers does not save it.
   */
  public Map<String, Tensor> namedParameters() {
    return baseParameters;
  }

  /** Logits {@code [N, T, V]} in the model's dtype for input ids {@code [N, T]} (int64), no padding mask. */
  @Override
  public Tensor forward(Tensor inputIds) {
    return forward(inputIds, null);
  }

  /**
   * Logits {@code [N, T, V]} for input ids {@code [N, T]} (int64) with an attention mask {@code [N, T]} (1 for
   * tokens, 0 for padding; any integer or bool dtype) or {@code null}. Padded positions never influence real
   * ones; the logits at padded positions themselves are unspecified.
   */
  public Tensor forward(Tensor inputIds, Tensor attentionMask) {
    Tensor h = hiddenStates(inputIds, attentionMask);
    ScalarType dtype = h.scalar_type().intern();
    Tensor logits = lmHead == null ? torch.linear(h, embedding) : lmHead.forward(h);
    if (options.logitsMultiplier() != 1) {
      logits = logits.mul(new Scalar(options.logitsMultiplier()));
    }
    if (options.finalSoftcap() > 0) {
      Scalar cap = new Scalar(options.finalSoftcap());
      logits = logits.div(cap).tanh().mul(cap);
    }
    return logits.scalar_type().intern() == dtype ? logits : logits.to(dtype);
  }

  /** Hidden states {@code [N, T, H]} after the final norm, in the model's dtype; no padding mask. */
  @Override
  public Tensor hiddenStates(Tensor inputIds) {
    return hiddenStates(inputIds, null);
  }

  /**
   * The output layer: the tied embedding, or {@code lm_head} with its LoRA adapter while adapters are enabled, with
   * the family's logits multiplier and final soft-cap. {@link #forward} is {@code head} applied to
   * {@link #hiddenStates}.
   */
  @Override
  public LmHead head() {
    LmHead plain;
    if (lmHead == null) {
      plain = LmHead.of(embedding);
    } else {
      boolean adapter = lmHead.hasAdapter() && adapters.enabled();
      plain = new LmHead(lmHead.weight, lmHead.bias, adapter ? lmHead.loraA : null, adapter ? lmHead.loraB : null,
          lmHead.loraScale, lmHead.loraDropout, is_training());
    }
    return plain.withLogits(options.logitsMultiplier(), options.finalSoftcap());
  }

  /** As {@link #hiddenStates(Tensor)} with an attention mask (see {@link #forward(Tensor, Tensor)}). */
  public Tensor hiddenStates(Tensor inputIds, Tensor attentionMask) {
    if (inputIds.dim() != 2) {
      throw new IllegalArgumentException("inputIds must be [N, T], got " + inputIds.dim() + " dimensions");
    }
    long rows = inputIds.size(0);
    long seqLen = inputIds.size(1);
    if (seqLen > config.maxPositions()) {
      throw new IllegalArgumentException("sequence length " + seqLen + " exceeds max_position_embeddings = "
          + config.maxPositions() + ": truncate the inputs");
    }
    if (attentionMask != null && (attentionMask.dim() != 2 || attentionMask.size(0) != rows
        || attentionMask.size(1) != seqLen)) {
      throw new IllegalArgumentException("attentionMask must be [" + rows + ", " + seqLen + "] like the input ids");
    }
    Tensor x = torch.embedding(embedding, inputIds);
    if (options.embeddingScale() != 1) {
      x = options.embeddingScaleInModelDtype()
          ? x.mul(HostTensors.floats(new float[] {(float) options.embeddingScale()}, 1).to(x.device(),
              x.scalar_type().intern()))
          : x.mul(new Scalar(options.embeddingScale()));
    }
    Map<Rope, Tensor[]> rotations = new HashMap<>();
    Map<Integer, Optional<Tensor>> masks = new HashMap<>();
    for (DecoderLayer layer : layers) {
      LayerAttention pattern = layer.pattern();
      Tensor[] cosSin = null;
      if (pattern.rope() != null) {
        Tensor like = x;
        int rotary = options.rotaryDim(config.headDim());
        cosSin = rotations.computeIfAbsent(pattern.rope(), rope -> Attention.rotaryTables(rope, rotary, seqLen, like));
      }
      // A window at least as long as the rows is full causal attention.
      int window = pattern.slidingWindow() >= seqLen ? 0 : pattern.slidingWindow();
      Tensor like = x;
      Tensor mask = masks.computeIfAbsent(window, w -> Optional.ofNullable(
          w == 0 && attentionMask == null ? null : Attention.mask(attentionMask, w, rows, seqLen, like))).orElse(null);
      x = layer(layer, x, cosSin, mask, rows, seqLen);
    }
    return finalNorm.forward(x);
  }

  private Tensor layer(DecoderLayer layer, Tensor x, Tensor[] cosSin, Tensor mask, long rows, long seqLen) {
    NormPlacement placement = options.placement();
    Tensor attended = layer.attention().forward(config, placement == NormPlacement.POST ? x
        : layer.inputNorm().forward(x), cosSin, mask, rows, seqLen);
    if (placement != NormPlacement.PRE) {
      attended = layer.postAttentionNorm().forward(attended);
    }
    x = residual(x, attended);
    Tensor m = switch (placement) {
      case PRE -> layer.postAttentionNorm().forward(x);
      case SANDWICH -> layer.preFeedforwardNorm().forward(x);
      case POST -> x;
    };
    Tensor out = layer.mlp() != null ? layer.mlp().forward(m, options.activation(), config.intermediateSize())
        : layer.experts().forward(m, options.activation());
    if (placement != NormPlacement.PRE) {
      out = layer.postFeedforwardNorm().forward(out);
    }
    return residual(x, out);
  }

  private Tensor residual(Tensor x, Tensor block) {
    double multiplier = options.residualMultiplier();
    return x.add(multiplier == 1 ? block : block.mul(new Scalar(multiplier)));
  }

  /**
   * The parameters an optimizer updates: every parameter that requires grad. With LoRA adapters attached these
   * are the adapters only (the base weights are frozen).
   */
  @Override
  public TensorVector parameters() {
    List<Tensor> trainable = new ArrayList<>();
    for (Tensor t : allParameters().values()) {
      if (t.requires_grad()) {
        trainable.add(t);
      }
    }
    return new TensorVector(trainable.toArray(new Tensor[0]));
  }

  /** Every parameter, base and adapters, by name, in registration order. */
  public Map<String, Tensor> allParameters() {
    Map<String, Tensor> all = new LinkedHashMap<>(baseParameters);
    forEachProjection((name, p) -> {
      if (p.hasAdapter()) {
        all.put(name + ".lora_A.weight", p.loraA);
        all.put(name + ".lora_B.weight", p.loraB);
      }
    });
    return all;
  }

  /**
   * Switches LoRA adapters on or off for the following forward passes; off gives the base model's outputs (the
   * reference model of a LoRA run). A model without adapters ignores the switch.
   */
  public void setAdaptersEnabled(boolean enabled) {
    adapters.set(enabled);
  }

  public boolean adaptersEnabled() {
    return adapters.enabled();
  }

  /** Visits every linear projection with its Hugging Face module name ({@code model.layers.0.self_attn.q_proj}). */
  void forEachProjection(BiConsumer<String, Projection> visitor) {
    projections.forEach(visitor);
  }

  private Module container() {
    Module container = Parameters.keep(new Module());
    containers.add(container);
    return container;
  }
}
