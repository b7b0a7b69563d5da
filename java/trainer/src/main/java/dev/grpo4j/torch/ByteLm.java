package dev.grpo4j.torch;

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
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A tiny byte-level causal transformer (vocabulary: the 256 byte values): token and position embeddings, one
 * pre-norm block of single-head causal self-attention and a GELU MLP, a final norm and a linear LM head. Small
 * enough to train in seconds on a laptop CPU; its initial weights follow libtorch's default initialisation, so
 * {@code torch.manual_seed} before construction makes them reproducible.
 */
public final class ByteLm extends Module implements CausalLm {
  /** Vocabulary size: one token per byte value. */
  public static final int VOCAB = 256;

  private final int maxLen;
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

  /**
   * @param maxLen longest input sequence
   * @param width model width (embedding and attention size; the MLP is 4x wider)
   */
  public ByteLm(int maxLen, int width) {
    if (maxLen < 1 || width < 1) {
      throw new IllegalArgumentException("maxLen and width must be >= 1, got " + maxLen + ", " + width);
    }
    this.maxLen = maxLen;
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

  /** LayerNorm over the last dimension. */
  private static LayerNormImpl layerNorm(int width) {
    // new LongVector(n) would be a vector of n zeros; the shape [width] is a one-element vector.
    return new LayerNormImpl(new LongVector(new long[] {width}));
  }

  @Override
  public Tensor forward(Tensor inputIds) {
    long seqLen = inputIds.size(1);
    if (seqLen > maxLen) {
      throw new IllegalArgumentException("input has " + seqLen + " positions, the model at most " + maxLen);
    }
    Tensor positionIds = torch.arange(new Scalar(seqLen), new TensorOptions(ScalarType.Long));
    Tensor x = tokens.forward(inputIds).add(positions.forward(positionIds));

    Tensor[] qkvParts = TensorVectors.owned(qkv.forward(attentionNorm.forward(x)).chunk(3, -1));
    Tensor attended = torch.scaled_dot_product_attention(qkvParts[0], qkvParts[1], qkvParts[2],
        new TensorOptional(), 0.0, true, new DoubleOptional(), false);
    x = x.add(attentionOut.forward(attended));
    x = x.add(mlpDown.forward(torch.gelu(mlpUp.forward(mlpNorm.forward(x)))));
    return head.forward(finalNorm.forward(x));
  }
}
