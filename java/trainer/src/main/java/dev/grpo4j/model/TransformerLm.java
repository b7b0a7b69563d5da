package dev.grpo4j.model;

import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.torch.CausalLm;
import dev.grpo4j.torch.LmHead;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.BiConsumer;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A Llama-family decoder ({@code LlamaForCausalLM}, {@code Qwen2ForCausalLM}) on libtorch: token embedding; per
 * layer RMSNorm, grouped-query self-attention with rotary positions (rotate-half, as transformers applies it)
 * through {@code scaled_dot_product_attention}, residual, RMSNorm, SwiGLU MLP, residual; final RMSNorm; LM head,
 * tied to the embedding or not.
 *
 * <p>Parameter names are Hugging Face's ({@code model.layers.0.self_attn.q_proj.weight} ...), in the order
 * transformers registers them, so checkpoints map one to one ({@link #namedParameters()}).
 *
 * <p>Positions are {@code 0 .. T-1} in every row, as transformers uses them when no position ids are given. Rows
 * are normally right-padded, where the causal mask alone keeps padding from influencing real tokens; for left
 * padding pass an attention mask to {@link #forward(Tensor, Tensor)}.
 *
 * <p>Thread safety: none; one training loop drives one model.
 */
public final class TransformerLm extends Module implements CausalLm {
  private final ModelConfig config;
  private final AdapterSwitch adapters = new AdapterSwitch();
  private final Tensor embedding;
  private final List<DecoderLayer> layers;
  private final RmsNorm finalNorm;
  private final Projection lmHead;
  private final double[] inverseFrequencies;
  private final Map<String, Tensor> baseParameters;
  /**
   * The Java peers of the plain container modules ({@code model}, {@code layers.0}, {@code self_attn}, ...). They
   * must stay reachable as long as the model: libtorch's recursive calls ({@code train}, {@code eval}) reach every
   * registered module through its peer, and a collected peer makes them fail.
   */
  private final List<Module> containers = new ArrayList<>();

  private record DecoderLayer(RmsNorm inputNorm, Projection q, Projection k, Projection v, Projection o,
                              RmsNorm postAttentionNorm, Projection gate, Projection up, Projection down) {}

  TransformerLm(ModelConfig config, ParameterFactory factory) {
    this.config = Objects.requireNonNull(config, "config");
    Parameters.keep(this);
    int h = config.hiddenSize();
    int qWidth = config.numHeads() * config.headDim();
    int kvWidth = config.numKvHeads() * config.headDim();
    Module model = register_module("model", container());
    Module embed = model.register_module("embed_tokens", container());
    embedding = Parameters.register(embed, "weight", factory.normal(config.vocabSize(), h));
    Module layerList = model.register_module("layers", container());
    List<DecoderLayer> built = new ArrayList<>();
    for (int i = 0; i < config.numLayers(); i++) {
      Module layer = layerList.register_module(Integer.toString(i), container());
      // Registration order is transformers' (self_attn, mlp, then the two norms): it fixes the parameter order.
      Module attention = layer.register_module("self_attn", container());
      Projection q = attention.register_module("q_proj",
          new Projection(h, qWidth, config.attentionBias(), factory, adapters));
      Projection k = attention.register_module("k_proj",
          new Projection(h, kvWidth, config.attentionBias(), factory, adapters));
      Projection v = attention.register_module("v_proj",
          new Projection(h, kvWidth, config.attentionBias(), factory, adapters));
      Projection o = attention.register_module("o_proj",
          new Projection(qWidth, h, config.outputBias(), factory, adapters));
      Module mlp = layer.register_module("mlp", container());
      int inter = config.intermediateSize();
      Projection gate = mlp.register_module("gate_proj", new Projection(h, inter, config.mlpBias(), factory, adapters));
      Projection up = mlp.register_module("up_proj", new Projection(h, inter, config.mlpBias(), factory, adapters));
      Projection down = mlp.register_module("down_proj",
          new Projection(inter, h, config.mlpBias(), factory, adapters));
      RmsNorm inputNorm = layer.register_module("input_layernorm", new RmsNorm(h, config.rmsNormEps(), factory));
      RmsNorm postNorm = layer.register_module("post_attention_layernorm",
          new RmsNorm(h, config.rmsNormEps(), factory));
      built.add(new DecoderLayer(inputNorm, q, k, v, o, postNorm, gate, up, down));
    }
    layers = List.copyOf(built);
    finalNorm = model.register_module("norm", new RmsNorm(h, config.rmsNormEps(), factory));
    lmHead = config.tieWordEmbeddings() ? null
        : register_module("lm_head", new Projection(h, config.vocabSize(), false, factory, adapters));
    inverseFrequencies = config.rope().inverseFrequencies(config.headDim());
    baseParameters = Collections.unmodifiableMap(collectBaseParameters());
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
    return logits.scalar_type().intern() == dtype ? logits : logits.to(dtype);
  }

  /** Hidden states {@code [N, T, H]} after the final norm, in the model's dtype; no padding mask. */
  @Override
  public Tensor hiddenStates(Tensor inputIds) {
    return hiddenStates(inputIds, null);
  }

  /**
   * The output layer: the tied embedding, or {@code lm_head} with its LoRA adapter while adapters are enabled.
   * {@link #forward} is {@code head} applied to {@link #hiddenStates}.
   */
  @Override
  public LmHead head() {
    if (lmHead == null) {
      return LmHead.of(embedding);
    }
    boolean adapter = lmHead.hasAdapter() && adapters.enabled();
    return new LmHead(lmHead.weight, lmHead.bias, adapter ? lmHead.loraA : null, adapter ? lmHead.loraB : null,
        lmHead.loraScale, lmHead.loraDropout, is_training());
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
    Tensor x = torch.embedding(embedding, inputIds);
    Tensor[] cosSin = rotaryTables(seqLen, x);
    Tensor mask = attentionMask == null ? null : attentionMask(attentionMask, rows, seqLen, x);
    int headDim = config.headDim();
    boolean grouped = config.numKvHeads() != config.numHeads();
    for (DecoderLayer layer : layers) {
      Tensor normed = layer.inputNorm().forward(x);
      Tensor q = rotate(heads(layer.q().forward(normed), rows, seqLen, config.numHeads()), cosSin);
      Tensor k = rotate(heads(layer.k().forward(normed), rows, seqLen, config.numKvHeads()), cosSin);
      Tensor v = heads(layer.v().forward(normed), rows, seqLen, config.numKvHeads());
      Tensor attended = torch.scaled_dot_product_attention(q, k, v,
          mask == null ? new TensorOptional() : new TensorOptional(mask), 0.0, mask == null,
          new DoubleOptional(), grouped);
      Tensor merged = attended.transpose(1, 2).reshape(rows, seqLen, (long) config.numHeads() * headDim);
      x = x.add(layer.o().forward(merged));
      Tensor m = layer.postAttentionNorm().forward(x);
      x = x.add(layer.down().forward(torch.silu(layer.gate().forward(m)).mul(layer.up().forward(m))));
    }
    return finalNorm.forward(x);
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
    for (int i = 0; i < layers.size(); i++) {
      DecoderLayer l = layers.get(i);
      String prefix = "model.layers." + i + ".";
      visitor.accept(prefix + "self_attn.q_proj", l.q());
      visitor.accept(prefix + "self_attn.k_proj", l.k());
      visitor.accept(prefix + "self_attn.v_proj", l.v());
      visitor.accept(prefix + "self_attn.o_proj", l.o());
      visitor.accept(prefix + "mlp.gate_proj", l.gate());
      visitor.accept(prefix + "mlp.up_proj", l.up());
      visitor.accept(prefix + "mlp.down_proj", l.down());
    }
    if (lmHead != null) {
      visitor.accept("lm_head", lmHead);
    }
  }

  private Map<String, Tensor> collectBaseParameters() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    out.put("model.embed_tokens.weight", embedding);
    for (int i = 0; i < layers.size(); i++) {
      DecoderLayer l = layers.get(i);
      String prefix = "model.layers." + i + ".";
      putProjection(out, prefix + "self_attn.q_proj", l.q());
      putProjection(out, prefix + "self_attn.k_proj", l.k());
      putProjection(out, prefix + "self_attn.v_proj", l.v());
      putProjection(out, prefix + "self_attn.o_proj", l.o());
      putProjection(out, prefix + "mlp.gate_proj", l.gate());
      putProjection(out, prefix + "mlp.up_proj", l.up());
      putProjection(out, prefix + "mlp.down_proj", l.down());
      out.put(prefix + "input_layernorm.weight", l.inputNorm().weight);
      out.put(prefix + "post_attention_layernorm.weight", l.postAttentionNorm().weight);
    }
    out.put("model.norm.weight", finalNorm.weight);
    if (lmHead != null) {
      out.put("lm_head.weight", lmHead.weight);
    }
    return out;
  }

  private static void putProjection(Map<String, Tensor> out, String name, Projection p) {
    out.put(name + ".weight", p.weight);
    if (p.bias != null) {
      out.put(name + ".bias", p.bias);
    }
  }

  private Module container() {
    Module container = Parameters.keep(new Module());
    containers.add(container);
    return container;
  }

  /** {@code [N, T, heads*hd]} to {@code [N, heads, T, hd]}. */
  private Tensor heads(Tensor projected, long rows, long seqLen, int count) {
    return projected.view(rows, seqLen, count, config.headDim()).transpose(1, 2);
  }

  /** {@code x * cos + rotate_half(x) * sin}, rotate_half(x) = {@code [-x2, x1]} over the two halves of a head. */
  private Tensor rotate(Tensor x, Tensor[] cosSin) {
    long half = config.headDim() / 2;
    Tensor rotated = torch.cat(new TensorVector(x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)), -1);
    return x.mul(cosSin[0]).add(rotated.mul(cosSin[1]));
  }

  /**
   * cos and sin {@code [T, hd]} of {@code position * inv_freq}, each frequency used for both halves; computed in
   * float32 and cast to the activations' dtype, as transformers does.
   */
  private Tensor[] rotaryTables(long seqLen, Tensor like) {
    float[] inv = new float[inverseFrequencies.length];
    for (int j = 0; j < inv.length; j++) {
      inv[j] = (float) inverseFrequencies[j];
    }
    Tensor freq = HostTensors.floats(inv, inv.length);
    Tensor positions = torch.arange(new Scalar(seqLen), new TensorOptions(ScalarType.Float));
    Tensor angles = positions.unsqueeze(1).mul(freq.unsqueeze(0));
    Tensor both = torch.cat(new TensorVector(angles, angles), -1);
    ScalarType dtype = like.scalar_type().intern();
    Tensor cos = both.cos().to(like.device(), dtype);
    Tensor sin = both.sin().to(like.device(), dtype);
    return new Tensor[] {cos, sin};
  }

  /**
   * Boolean {@code [N, 1, T, T]}: query t may see key s when s <= t and s is a token. Each position may always see
   * itself, so a padding query at the start of a left-padded row has a key and does not turn into NaN.
   */
  private static Tensor attentionMask(Tensor attentionMask, long rows, long seqLen, Tensor like) {
    if (attentionMask.dim() != 2 || attentionMask.size(0) != rows || attentionMask.size(1) != seqLen) {
      throw new IllegalArgumentException("attentionMask must be [" + rows + ", " + seqLen + "] like the input ids");
    }
    TensorOptions bool = new TensorOptions(ScalarType.Bool);
    Tensor keys = attentionMask.to(like.device(), ScalarType.Bool).view(rows, 1, 1, seqLen);
    Tensor causal = torch.ones(new long[] {seqLen, seqLen}, bool).to(like.device(), ScalarType.Bool).tril();
    Tensor self = torch.eye(seqLen, bool).to(like.device(), ScalarType.Bool);
    return causal.logical_and(keys).logical_or(self);
  }
}
