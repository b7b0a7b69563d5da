package dev.grpo4j.model;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * {@code y = weight * (x / sqrt(mean(x^2) + eps))}, normalised in float32 and cast back to the input dtype before the
 * weight is applied, in that order, as transformers' {@code LlamaRMSNorm} does (the order matters in bf16).
 */
final class RmsNorm extends Module {
  final Tensor weight;
  private final double eps;

  RmsNorm(int width, double eps, ParameterFactory factory) {
    this.eps = eps;
    Parameters.keep(this);
    weight = Parameters.register(this, "weight", factory.ones(width));
  }

  Tensor forward(Tensor x) {
    ScalarType dtype = x.scalar_type().intern();
    Tensor wide = dtype == ScalarType.Float ? x : x.to(ScalarType.Float);
    Tensor meanSquare = wide.pow(new Scalar(2.0)).mean(new long[] {-1}, true, new ScalarTypeOptional());
    Tensor normed = wide.mul(meanSquare.add(new Scalar(eps)).rsqrt());
    return weight.mul(dtype == ScalarType.Float ? normed : normed.to(dtype));
  }
}
