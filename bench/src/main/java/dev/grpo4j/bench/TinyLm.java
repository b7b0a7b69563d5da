package dev.grpo4j.bench;

import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.EmbeddingImpl;
import org.bytedeco.pytorch.LayerNormImpl;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.LongVector;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The demo's model architecture (grpo4j-trainer's ByteLm, copied so that the benchmarks depend on grpo4j-core and
 * libtorch only): byte-level causal transformer, token and position embeddings, one pre-norm block of single-head
 * causal self-attention and a GELU MLP, final norm, linear LM head over V = 256.
 */
final class TinyLm extends Module {
  static final int VOCAB = 256;

  private final EmbeddingImpl tokens;
  private final EmbeddingImpl positions;
  private final LayerNormImpl attentionNorm;
  private final LinearImpl qkv;
  private final LinearImpl attentionOut;
  private final LayerNormImpl mlpNorm;
  private final LinearImpl mlpUp;
  private final LinearImpl mlpDown;
  private final LayerNormImpl finalNorm;
  private final LinearImpl head;

  TinyLm(int maxLen, int width) {
    tokens = register_module("tokens", new EmbeddingImpl(VOCAB, width));
    positions = register_module("positions", new EmbeddingImpl(maxLen, width));
    attentionNorm = register_module("attention_norm", layerNorm(width));
    qkv = register_module("qkv", new LinearImpl(width, 3L * width));
    attentionOut = register_module("attention_out", new LinearImpl(width, width));
    mlpNorm = register_module("mlp_norm", layerNorm(width));
    mlpUp = register_module("mlp_up", new LinearImpl(width, 4L * width));
    mlpDown = register_module("mlp_down", new LinearImpl(4L * width, width));
    finalNorm = register_module("final_norm", layerNorm(width));
    head = register_module("head", new LinearImpl(width, VOCAB));
  }

  private static LayerNormImpl layerNorm(int width) {
    return new LayerNormImpl(new LongVector(new long[] {width}));
  }

  /** Logits [N, T, V] for input ids [N, T]. */
  Tensor forward(Tensor inputIds) {
    Tensor positionIds = torch.arange(new Scalar(inputIds.size(1)), new TensorOptions(ScalarType.Long));
    Tensor x = tokens.forward(inputIds).add(positions.forward(positionIds));
    TensorVector qkvParts = qkv.forward(attentionNorm.forward(x)).chunk(3, -1);
    Tensor attended = torch.scaled_dot_product_attention(qkvParts.get(0), qkvParts.get(1), qkvParts.get(2),
        new TensorOptional(), 0.0, true, new DoubleOptional(), false);
    x = x.add(attentionOut.forward(attended));
    x = x.add(mlpDown.forward(torch.gelu(mlpUp.forward(mlpNorm.forward(x)))));
    return head.forward(finalNorm.forward(x));
  }
}
