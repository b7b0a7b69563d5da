package dev.grpo4j.model;

import dev.grpo4j.model.DecoderOptions.NormStyle;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * {@code n = x / sqrt(mean(x^2) + eps)} over the last dimension, computed in float32, with the weight applied in the
 * family's order ({@link NormStyle}): Llama casts {@code n} back to the input dtype and then multiplies
 * ({@code w * n.to(dtype)}), OLMo 2 multiplies first ({@code (w * n).to(dtype)}), Gemma multiplies by
 * {@code 1 + w} in float32; the order matters in bf16.
 */
final class RmsNorm extends Module {
  final Tensor weight;
  private final double eps;
  private final NormStyle style;

  RmsNorm(int width, double eps, NormStyle style, ParameterFactory factory) {
    this.eps = eps;
    this.style = style;
    Parameters.keep(this);
    weight = Parameters.register(this, "weight",
        style == NormStyle.ONE_PLUS_WEIGHT ? factory.zeros(width) : factory.ones(width));
  }

  Tensor forward(Tensor x) {
    ScalarType dtype = x.scalar_type().intern();
    boolean wide = dtype == ScalarType.Float;
    Tensor f = wide ? x : x.to(ScalarType.Float);
    Tensor meanSquare = f.pow(new Scalar(2.0)).mean(new long[] {-1}, true, new ScalarTypeOptional());
    Tensor normed = f.mul(meanSquare.add(new Scalar(eps)).rsqrt());
    Tensor out = switch (style) {
      case WEIGHT_AFTER_CAST -> weight.mul(wide ? normed : normed.to(dtype));
      case WEIGHT_BEFORE_CAST -> weight.mul(normed);
      case ONE_PLUS_WEIGHT -> normed.mul(weight.to(ScalarType.Float).add(new Scalar(1.0)));
    };
    return out.scalar_type().intern() == dtype ? out : out.to(dtype);
  }
}
