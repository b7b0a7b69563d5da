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
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
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

  /**
   * One layer. {@code qkv} is the fused projection of a family that has one (then {@code q}, {@code k}, {@code v}
   * are null), {@code gateUp} likewise; a norm the family's placement does not have is null.
   */
  private record DecoderLayer(Projection q, Projection k, Projection v, Projection qkv, Projection o, RmsNorm qNorm,
                              RmsNorm kNorm, Projection gate, Projection up, Projection gateUp, Projection down,
                              RmsNorm inputNorm, RmsNorm postAttentionNorm, RmsNorm preFeedforwardNorm,
                              RmsNorm postFeedforwardNorm, LayerAttention attention) {}

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
      built.add(layer(layerList.register_module(Integer.toString(i), container()), prefix, factory,
          options.layers().get(i), named, linear));
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
                             Map<String, Tensor> named, Map<String, Projection> linear) {
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
    Projection down = projection(mlp, prefix + "mlp.", "down_proj", inter, h, mlpBias, factory, named, linear);
    NormPlacement placement = options.placement();
    RmsNorm inputNorm = placement == NormPlacement.POST ? null
        : norm(layer, prefix, "input_layernorm", h, factory, named);
    RmsNorm postAttentionNorm = norm(layer, prefix, "post_attention_layernorm", h, factory, named);
    RmsNorm preFeedforwardNorm = placement == NormPlacement.SANDWICH
        ? norm(layer, prefix, "pre_feedforward_layernorm", h, factory, named) : null;
    RmsNorm postFeedforwardNorm = placement == NormPlacement.PRE ? null
        : norm(layer, prefix, "post_feedforward_layernorm", h, factory, named);
    return new DecoderLayer(q, k, v, qkv, o, qNorm, kNorm, gate, up, gateUp, down, inputNorm, postAttentionNorm,
        preFeedforwardNorm, postFeedforwardNorm, attention);
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
      LayerAttention pattern = layer.attention();
      Tensor[] cosSin = null;
      if (pattern.rope() != null) {
        Tensor like = x;
        cosSin = rotations.computeIfAbsent(pattern.rope(), rope -> rotaryTables(rope, seqLen, like));
      }
      // A window at least as long as the rows is full causal attention.
      int window = pattern.slidingWindow() >= seqLen ? 0 : pattern.slidingWindow();
      Tensor like = x;
      Tensor mask = masks.computeIfAbsent(window, w -> Optional.ofNullable(
          w == 0 && attentionMask == null ? null : attentionMask(attentionMask, w, rows, seqLen, like))).orElse(null);
      x = layer(layer, x, cosSin, mask, rows, seqLen);
    }
    return finalNorm.forward(x);
  }

  private Tensor layer(DecoderLayer layer, Tensor x, Tensor[] cosSin, Tensor mask, long rows, long seqLen) {
    NormPlacement placement = options.placement();
    Tensor attended = attention(layer, placement == NormPlacement.POST ? x : layer.inputNorm().forward(x), cosSin,
        mask, rows, seqLen);
    if (placement != NormPlacement.PRE) {
      attended = layer.postAttentionNorm().forward(attended);
    }
    x = residual(x, attended);
    Tensor m = switch (placement) {
      case PRE -> layer.postAttentionNorm().forward(x);
      case SANDWICH -> layer.preFeedforwardNorm().forward(x);
      case POST -> x;
    };
    Tensor out = mlp(layer, m);
    if (placement != NormPlacement.PRE) {
      out = layer.postFeedforwardNorm().forward(out);
    }
    return residual(x, out);
  }

  private Tensor residual(Tensor x, Tensor block) {
    double multiplier = options.residualMultiplier();
    return x.add(multiplier == 1 ? block : block.mul(new Scalar(multiplier)));
  }

  private Tensor attention(DecoderLayer layer, Tensor normed, Tensor[] cosSin, Tensor mask, long rows, long seqLen) {
    int qWidth = config.numHeads() * config.headDim();
    int kvWidth = config.numKvHeads() * config.headDim();
    Tensor q;
    Tensor k;
    Tensor v;
    if (layer.qkv() != null) {
      Tensor qkv = layer.qkv().forward(normed);
      q = qkv.narrow(-1, 0, qWidth);
      k = qkv.narrow(-1, qWidth, kvWidth);
      v = qkv.narrow(-1, qWidth + kvWidth, kvWidth);
    } else {
      q = layer.q().forward(normed);
      k = layer.k().forward(normed);
      v = layer.v().forward(normed);
    }
    if (options.qkNorm() == QkNorm.WHOLE) {
      q = layer.qNorm().forward(q);
      k = layer.kNorm().forward(k);
    }
    q = q.reshape(rows, seqLen, config.numHeads(), config.headDim());
    k = k.reshape(rows, seqLen, config.numKvHeads(), config.headDim());
    if (options.qkNorm() == QkNorm.PER_HEAD) {
      q = layer.qNorm().forward(q);
      k = layer.kNorm().forward(k);
    }
    q = q.transpose(1, 2);
    k = k.transpose(1, 2);
    v = v.reshape(rows, seqLen, config.numKvHeads(), config.headDim()).transpose(1, 2);
    if (cosSin != null) {
      q = rotate(q, cosSin);
      k = rotate(k, cosSin);
    }
    Tensor attended = options.attentionSoftcap() > 0 ? softcappedAttention(q, k, v, mask, seqLen)
        : torch.scaled_dot_product_attention(q, k, v, mask == null ? new TensorOptional() : new TensorOptional(mask),
            0.0, mask == null, Double.isNaN(options.attentionScale()) ? new DoubleOptional()
                : new DoubleOptional(options.attentionScale()), config.numKvHeads() != config.numHeads());
    return layer.o().forward(attended.transpose(1, 2).reshape(rows, seqLen, qWidth));
  }

  /**
   * Attention whose scores are soft-capped, {@code c tanh(s / c)} before the mask (Gemma 2), which
   * {@code scaled_dot_product_attention} cannot do: the scores are computed whole, the softmax in float32 and cast
   * back, as transformers' eager attention does.
   */
  private Tensor softcappedAttention(Tensor q, Tensor k, Tensor v, Tensor mask, long seqLen) {
    int repeats = config.queriesPerKv();
    if (repeats > 1) {
      k = k.repeat_interleave(repeats, new LongOptional(1), new LongOptional());
      v = v.repeat_interleave(repeats, new LongOptional(1), new LongOptional());
    }
    double scale = Double.isNaN(options.attentionScale()) ? 1 / Math.sqrt(config.headDim())
        : options.attentionScale();
    Scalar cap = new Scalar(options.attentionSoftcap());
    Tensor scores = torch.matmul(q, k.transpose(2, 3)).mul(new Scalar(scale)).div(cap).tanh().mul(cap);
    Tensor visible = mask != null ? mask : attentionMask(null, 0, 1, seqLen, q);
    scores = scores.masked_fill(visible.logical_not(), new Scalar(Double.NEGATIVE_INFINITY));
    Tensor weights = scores.softmax(-1, new ScalarTypeOptional(ScalarType.Float)).to(q.scalar_type().intern());
    return torch.matmul(weights, v);
  }

  private Tensor mlp(DecoderLayer layer, Tensor x) {
    Tensor gate;
    Tensor up;
    if (layer.gateUp() != null) {
      Tensor both = layer.gateUp().forward(x);
      int inter = config.intermediateSize();
      gate = both.narrow(-1, 0, inter);
      up = both.narrow(-1, inter, inter);
    } else {
      gate = layer.gate().forward(x);
      up = layer.up().forward(x);
    }
    Tensor activated = switch (options.activation()) {
      case SILU -> torch.silu(gate);
      case GELU_TANH -> torch.gelu(gate, "tanh");
    };
    return layer.down().forward(activated.mul(up));
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

  /**
   * {@code x * cos + rotate_half(x) * sin} on the first {@code rotary} features of each head (all of them unless the
   * family rotates part), rotate_half(x) = {@code [-x2, x1]} over the two halves of those features.
   */
  private Tensor rotate(Tensor x, Tensor[] cosSin) {
    int rotary = options.rotaryDim(config.headDim());
    Tensor turned = rotary == config.headDim() ? x : x.narrow(-1, 0, rotary);
    long half = rotary / 2;
    Tensor halves = torch.cat(new TensorVector(turned.narrow(-1, half, half).neg(), turned.narrow(-1, 0, half)), -1);
    Tensor rotated = turned.mul(cosSin[0]).add(halves.mul(cosSin[1]));
    return rotary == config.headDim() ? rotated
        : torch.cat(new TensorVector(rotated, x.narrow(-1, rotary, config.headDim() - rotary)), -1);
  }

  /**
   * cos and sin {@code [T, rotary]} of {@code position * inv_freq}, each frequency used for both halves, times the
   * rotation's attention scaling; computed in float32 and cast to the activations' dtype, as transformers does. The
   * frequencies may depend on T (longrope: on the padded batch's length, as transformers' position ids do).
   */
  private Tensor[] rotaryTables(Rope rope, long seqLen, Tensor like) {
    double[] inverse = rope.inverseFrequencies(options.rotaryDim(config.headDim()), seqLen);
    float[] inv = new float[inverse.length];
    for (int j = 0; j < inv.length; j++) {
      inv[j] = (float) inverse[j];
    }
    Tensor freq = HostTensors.floats(inv, inv.length);
    Tensor positions = torch.arange(new Scalar(seqLen), new TensorOptions(ScalarType.Float));
    Tensor angles = positions.unsqueeze(1).mul(freq.unsqueeze(0));
    Tensor both = torch.cat(new TensorVector(angles, angles), -1);
    ScalarType dtype = like.scalar_type().intern();
    Tensor cos = both.cos();
    Tensor sin = both.sin();
    if (rope.attentionScaling() != 1) {
      cos = cos.mul(new Scalar(rope.attentionScaling()));
      sin = sin.mul(new Scalar(rope.attentionScaling()));
    }
    return new Tensor[] {cos.to(like.device(), dtype), sin.to(like.device(), dtype)};
  }

  /**
   * Boolean {@code [N, 1, T, T]} (N = 1 without a padding mask): query t may see key s when s <= t, t - s < window
   * (window 0: any s <= t) and s is a token. Each position may always see itself, so a padding query at the start of
   * a left-padded row has a key and does not turn into NaN.
   */
  private static Tensor attentionMask(Tensor attentionMask, int window, long rows, long seqLen, Tensor like) {
    TensorOptions bool = new TensorOptions(ScalarType.Bool);
    Tensor causal = torch.ones(new long[] {seqLen, seqLen}, bool).to(like.device(), ScalarType.Bool).tril();
    if (window > 0) {
      causal = causal.triu(1 - window);
    }
    Tensor self = torch.eye(seqLen, bool).to(like.device(), ScalarType.Bool);
    if (attentionMask == null) {
      return causal.logical_or(self).view(1, 1, seqLen, seqLen);
    }
    Tensor keys = attentionMask.to(like.device(), ScalarType.Bool).view(rows, 1, 1, seqLen);
    return causal.logical_and(keys).logical_or(self);
  }
}
