package dev.grpo4j.model;

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * A linear layer {@code y = x W^T + b} whose parameters carry Hugging Face's names ({@code weight}, {@code bias}),
 * with room for a LoRA adapter {@code + scale * dropout(x) A^T B^T} ({@code lora_A.weight} {@code [r, in]},
 * {@code lora_B.weight} {@code [out, r]}, PEFT's names). libtorch's {@code LinearImpl} cannot take the adapter's
 * parameters under the same module, which PEFT's file layout needs.
 */
final class Projection extends Module {
  final int inFeatures;
  final int outFeatures;
  final Tensor weight;
  final Tensor bias;
  private final AdapterSwitch adapterSwitch;
  private Module loraAModule;
  private Module loraBModule;
  Tensor loraA;
  Tensor loraB;
  double loraScale;
  double loraDropout;

  Projection(int inFeatures, int outFeatures, boolean withBias, ParameterFactory factory, AdapterSwitch adapters) {
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.adapterSwitch = adapters;
    Parameters.keep(this);
    weight = Parameters.register(this, "weight", factory.normal(outFeatures, inFeatures));
    bias = withBias ? Parameters.register(this, "bias", factory.zeros(outFeatures)) : null;
  }

  Tensor forward(Tensor x) {
    Tensor y = torch.linear(x, weight, bias == null ? new TensorOptional() : new TensorOptional(bias));
    if (loraA != null && adapterSwitch.enabled()) {
      Tensor in = loraDropout > 0 ? torch.dropout(x, loraDropout, is_training()) : x;
      y = y.add(torch.linear(torch.linear(in, loraA), loraB), new Scalar(loraScale));
    }
    return y;
  }

  boolean hasAdapter() {
    return loraA != null;
  }

  /** Adds a rank-{@code rank} adapter: A from {@code a} ([rank, in]), B from {@code b} ([out, rank]). */
  void addAdapter(Tensor a, Tensor b, double scale, double dropout) {
    if (loraA != null) {
      throw new IllegalStateException("this layer already has a LoRA adapter");
    }
    loraAModule = register_module("lora_A", Parameters.keep(new Module()));
    loraBModule = register_module("lora_B", Parameters.keep(new Module()));
    loraA = Parameters.register(loraAModule, "weight", a);
    loraB = Parameters.register(loraBModule, "weight", b);
    loraScale = scale;
    loraDropout = dropout;
  }

  /** Removes the adapter's parameters from the module tree (after merging them or to discard them). */
  void removeAdapter() {
    if (loraA != null) {
      unregister_module("lora_A");
      unregister_module("lora_B");
      loraAModule = null;
      loraBModule = null;
      loraA = null;
      loraB = null;
    }
  }
}
