package dev.grpo4j.torch;

import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.platform.LibTorch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Where the gradient of a training call goes: dX (and dU) per position, and the head's parameter gradients per
 * accumulator slot. The chunks' positions arrive in working order; a position's slot is {@code slotOf}.
 */
final class FusedHeadGradient {
  static {
    LibTorch.load();
  }

  private final FusedHeadPositions p;
  private final Tensor u;
  private final Tensor uDetached;
  private final LmHead head;
  private final int slots;
  private final int[] slotOf;
  private final Tensor dx;
  private final Tensor du;
  private final FusedHeadPasses passes;
  private final FusedHeadAccumulator[][] accumulators;

  FusedHeadGradient(FusedHeadPositions p, Tensor u, Tensor uDetached, LmHead head, int slots, int[] slotOf,
                    FusedHeadPasses passes) {
    this.p = p;
    this.u = u;
    this.uDetached = uDetached;
    this.head = head;
    this.slots = slots;
    this.slotOf = slotOf;
    this.passes = passes;
    this.dx = torch.empty_like(p.x());
    this.du = u == null ? null : torch.empty_like(uDetached);
    Tensor[] parameters = {head.weight(), head.bias(), u == null ? null : head.loraB()};
    accumulators = new FusedHeadAccumulator[parameters.length][];
    for (int k = 0; k < parameters.length; k++) {
      if (parameters[k] != null && parameters[k].requires_grad()) {
        accumulators[k] = new FusedHeadAccumulator[slots];
        accumulators[k][0] = FusedHeadAccumulator.of(parameters[k]);
        for (int s = 1; s < slots; s++) {
          accumulators[k][s] = FusedHeadAccumulator.apart(parameters[k]);
        }
      }
    }
  }

  /**
   * The {@code c} positions from {@code start}, whose logits {@code z} holds: {@code z} becomes
   * {@code c_row (onehot - softmax)} in place, {@code c_row} the position's row's value of {@code rowCoefficients}
   * ({@code [N]} f32 where the logits are), multiplied into dX and dU and added to the slots' sums.
   */
  void add(Tensor z, Tensor statistics, int start, int c, Tensor rowCoefficients) {
    // The soft-cap's derivative comes from the capped logits, which the gradient pass overwrites.
    Tensor capSlope = head.softcap() > 0 ? softcapSlope(z) : null;
    passes.gradient(z, p, statistics, start, c, p.perPosition(rowCoefficients, start, c));
    if (capSlope != null) {
      z.mul_(capSlope);
    } else if (head.logitsMultiplier() != 1) {
      z.mul_(new Scalar(head.logitsMultiplier()));
    }
    torch.mm_out(dx.narrow(0, start, c), z, head.weight());
    if (du != null) {
      torch.mm_out(du.narrow(0, start, c), z, head.loraB()).mul_(new Scalar(head.loraScale()));
    }
    for (int from = 0; from < c; ) {
      int slot = slotOf[start + from];
      int to = from + 1;
      while (to < c && slotOf[start + to] == slot) {
        to++;
      }
      Tensor g = z.narrow(0, from, to - from);
      Tensor xc = p.x().narrow(0, start + from, to - from);
      add(0, slot, g.t(), xc, 1.0);
      if (accumulators[1] != null) {
        accumulators[1][slot].addSum(g);
      }
      if (du != null) {
        add(2, slot, g.t(), uDetached.narrow(0, start + from, to - from), head.loraScale());
      }
      from = to;
    }
  }

  /** {@code d logits / d z = m (1 - (z'/c)^2)} of the capped logits {@code z'}. */
  private Tensor softcapSlope(Tensor capped) {
    Tensor t = capped.div(new Scalar(head.softcap()));
    return t.mul_(t).neg_().add_(new Scalar(1.0)).mul_(new Scalar(head.logitsMultiplier()));
  }

  private void add(int parameter, int slot, Tensor left, Tensor right, double alpha) {
    if (accumulators[parameter] != null) {
      accumulators[parameter][slot].addProduct(left, right, alpha);
    }
  }

  /**
   * The group coefficients, once the group step is known: each position's dX (and dU) row times
   * {@code scale * c_g} of its pair's group, and the slots' sums combined into the first,
   * {@code sum_k scale * c_k dW_k}.
   */
  void scale(int[] slotOfGroup, double[] coefficients, double scale, int[] groupIds) {
    int pairs = groupIds.length;
    int m = p.count();
    float[] factor = new float[m];
    for (int i = 0; i < m; i++) {
      factor[i] = (float) (coefficients[groupIds[p.rowOf()[i] % pairs]] * scale);
    }
    double[] slotFactor = new double[slots];
    Arrays.fill(slotFactor, Double.NaN);
    for (int g = 0; g < slotOfGroup.length; g++) {
      int slot = slotOfGroup[g];
      if (slot < 0) {
        continue;
      }
      double f = coefficients[g] * scale;
      if (!Double.isNaN(slotFactor[slot]) && slotFactor[slot] != f) {
        throw new IllegalStateException("groups of accumulator slot " + slot + " have different coefficients ("
            + slotFactor[slot] + ", " + f + "): the loss's weighting does not give every group the same");
      }
      slotFactor[slot] = f;
    }
    if (m > 0) {
      Tensor rows = HostTensors.floats(factor, m, 1).to(p.x().device(), ScalarType.Float);
      dx.mul_(rows);
      if (du != null) {
        du.mul_(rows);
      }
    }
    for (FusedHeadAccumulator[] sums : accumulators) {
      if (sums == null) {
        continue;
      }
      sums[0].scale(Double.isNaN(slotFactor[0]) ? 0 : slotFactor[0]);
      for (int s = 1; s < slots; s++) {
        sums[0].addScaled(sums[s], slotFactor[s]);
      }
    }
  }

  /**
   * The head's parameter gradients added to their {@code grad}, and one backward from the hidden states (and U)
   * with each position's row of dX (dU) in its place.
   */
  void backward(Tensor hidden) {
    List<Tensor> roots = new ArrayList<>();
    List<Tensor> grads = new ArrayList<>();
    for (FusedHeadAccumulator[] sums : accumulators) {
      if (sums != null) {
        sums[0].addRoot(roots, grads);
      }
    }
    if (hidden.requires_grad()) {
      roots.add(hidden);
      grads.add(p.scattered(dx, hidden));
    }
    if (u != null && u.requires_grad()) {
      roots.add(u);
      grads.add(p.scattered(du, u));
    }
    if (!roots.isEmpty()) {
      torch.backward(new TensorVector(roots.toArray(new Tensor[0])), new TensorVector(grads.toArray(new Tensor[0])),
          new BoolOptional(), false, new TensorVector());
    }
  }
}

