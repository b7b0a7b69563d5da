package dev.grpo4j.bench;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.grpo4j.Backend;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Models;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.platform.LibTorch;
import dev.grpo4j.text.TokenPair;
import dev.grpo4j.torch.EncodedPairs;
import dev.grpo4j.torch.FusedLmHead;
import dev.grpo4j.torch.PreferenceObjective;
import dev.grpo4j.torch.PreferenceTrainer;
import dev.grpo4j.torch.TorchPreferenceLoss;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * One training step (policy forward, loss, backward, AdamW) of a randomly initialised model shaped like
 * Qwen2.5-0.5B (24 layers, width 896, 14/2 heads, MLP 4864, V = 151936, tied head; fp32), through
 * {@link PreferenceTrainer} as {@code grpo4j train} runs it: {@link #wholeLogits} forms the logits and hands them
 * to the fused logits loss ({@code --fused-head off}), {@link #fusedHead} takes the loss from the hidden states
 * ({@code --fused-head on}, 256 MB chunks). {@code pairs x T x prompt}: pairs, positions per row and masked prompt
 * positions (see {@link #shape}), the first half of every row prompt. Before timing,
 * the pair losses of the two paths (evaluation, no update) must agree.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {Jvm.NATIVE_ACCESS, Jvm.XMS, Jvm.XMX, Jvm.PRETOUCH, Jvm.JAVACPP_NO_LIMIT})
@Warmup(iterations = 1)
@Measurement(iterations = 2)
@State(Scope.Benchmark)
public class QwenTrainingStepBench extends MeasuredState {
  static {
    LibTorch.load();
  }

  /**
   * The step is 4 pairs (2 x 4 x 512 tokens); on the 23.5 GiB machine the suite runs on, both variants ran out
   * of memory there (bench/README.md), so the default is 2 pairs. {@code -p shape=4x512x256} for the issue's.
   */
  @Param({"2x512x256"})
  public String shape;

  /** Layers of the model (24 in Qwen2.5-0.5B); fewer for a quick look. */
  @Param({"24"})
  public int layers;

  private TransformerLm model;
  private GroupRobustLoss loss;
  private PreferenceTrainer trainer;
  private EncodedPairs data;
  private int[] pairs;

  @Setup(Level.Trial)
  public void setup(BenchmarkParams params) {
    begin(params);
    NativeLib.init();
    String[] parts = shape.split("x");
    int pairCount = Integer.parseInt(parts[0]);
    int seqLen = Integer.parseInt(parts[1]);
    int prompt = Integer.parseInt(parts[2]);
    ModelConfig config = qwen25HalfBillion(layers);
    model = Models.random(config, 3);
    List<TokenPair> tokenPairs = new ArrayList<>();
    for (int i = 0; i < pairCount; i++) {
      tokenPairs.add(new TokenPair(BenchData.groupOf(i), tokens(i, prompt, config.vocabSize()),
          tokens(1000 + i, seqLen - prompt, config.vocabSize()), tokens(2000 + i, seqLen - prompt,
          config.vocabSize())));
    }
    float[] reference = new float[pairCount];
    java.util.Arrays.fill(reference, (float) (-(seqLen - prompt) * Math.log(config.vocabSize())));
    data = EncodedPairs.encode(tokenPairs).withReference(reference, reference);
    pairs = new int[pairCount];
    for (int i = 0; i < pairCount; i++) {
      pairs[i] = i;
    }
    build(false);
    TorchPreferenceLoss adapter = new TorchPreferenceLoss(loss);
    FusedLmHead fused = FusedLmHead.withMemoryBudget(Backend.CPU, 0, 0, FusedLmHead.DEFAULT_MEMORY_BUDGET);
    float[] whole = PreferenceObjective.of(adapter, null).evaluatePairs(model, data, 0, pairCount, pairCount)
        .pairLosses();
    float[] chunked = PreferenceObjective.of(adapter, fused).evaluatePairs(model, data, 0, pairCount, pairCount)
        .pairLosses();
    for (int i = 0; i < pairCount; i++) {
      if (Math.abs(whole[i] - chunked[i]) > 1e-4 * Math.max(1, Math.abs(whole[i]))) {
        throw new IllegalStateException("pair " + i + ": loss " + whole[i] + " from the whole logits, " + chunked[i]
            + " through the fused head");
      }
    }
    build(method().equals("fusedHead"));
  }

  /** A fresh trainer (optimizer state and group weights) on the current weights. */
  private void build(boolean fused) {
    if (loss != null) {
      loss.close();
    }
    loss = BenchData.lossBuilder().backend(Backend.CPU).build();
    trainer = new PreferenceTrainer(model, new AdamW(model.parameters(), new AdamWOptions(1e-6)),
        new TorchPreferenceLoss(loss), fused ? FusedLmHead.withMemoryBudget(Backend.CPU, 0, 0,
            FusedLmHead.DEFAULT_MEMORY_BUDGET) : null);
  }

  static ModelConfig qwen25HalfBillion(int layers) {
    ObjectNode json = new ObjectMapper().createObjectNode();
    json.putArray("architectures").add("Qwen2ForCausalLM");
    json.put("model_type", "qwen2");
    json.put("vocab_size", 151936);
    json.put("hidden_size", 896);
    json.put("intermediate_size", 4864);
    json.put("num_hidden_layers", layers);
    json.put("num_attention_heads", 14);
    json.put("num_key_value_heads", 2);
    json.put("hidden_act", "silu");
    json.put("rms_norm_eps", 1e-6);
    json.put("rope_theta", 1000000.0);
    json.put("max_position_embeddings", 32768);
    json.put("tie_word_embeddings", true);
    json.put("initializer_range", 0.02);
    json.put("torch_dtype", "float32");
    return ModelConfig.fromJson(json);
  }

  private static int[] tokens(int seed, int length, int vocab) {
    int[] out = new int[length];
    for (int i = 0; i < length; i++) {
      out[i] = BenchData.label(((long) seed << 20) + i, vocab);
    }
    return out;
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    loss.close();
  }

  @Benchmark
  public double wholeLogits() {
    return trainer.step(data, pairs).loss();
  }

  @Benchmark
  public double fusedHead() {
    return trainer.step(data, pairs).loss();
  }
}
