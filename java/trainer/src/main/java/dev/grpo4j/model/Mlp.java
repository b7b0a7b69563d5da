package dev.grpo4j.model;

import dev.grpo4j.model.DecoderOptions.Activation;
import dev.grpo4j.platform.LibTorch;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * One layer's gated MLP, {@code down(act(gate(x)) * up(x))}: separate gate and up projections, or Phi-3's one
 * {@code gateUp} (gate first, then up; the others null).
 */
record Mlp(Projection gate, Projection up, Projection gateUp, Projection down) {
  static {
    LibTorch.load();
  }

  Tensor forward(Tensor x, Activation activation, int intermediate) {
    Tensor g;
    Tensor u;
    if (gateUp != null) {
      Tensor both = gateUp.forward(x);
      g = both.narrow(-1, 0, intermediate);
      u = both.narrow(-1, intermediate, intermediate);
    } else {
      g = gate.forward(x);
      u = up.forward(x);
    }
    Tensor activated = switch (activation) {
      case SILU -> torch.silu(g);
      case GELU_TANH -> torch.gelu(g, "tanh");
    };
    return down.forward(activated.mul(u));
  }
}
