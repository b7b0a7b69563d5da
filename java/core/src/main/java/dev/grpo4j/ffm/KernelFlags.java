package dev.grpo4j.ffm;

import dev.grpo4j.NonFiniteInputException;
import java.util.ArrayList;
import java.util.List;

/** The flags word CUDA kernels report input problems through, turned into the exceptions the CPU path throws. */
final class KernelFlags {
  private KernelFlags() {}

  /** CUDA kernels report input problems through flags; turn them into the exception the CPU path throws. */
  static void check(int flags) {
    if (flags == 0) {
      return;
    }
    List<String> problems = new ArrayList<>();
    if ((flags & Abi.FLAG_NON_FINITE) != 0) {
      problems.add("logits contain NaN or infinity at a labelled position");
    }
    if ((flags & Abi.FLAG_LABEL_RANGE) != 0) {
      problems.add("labels hold a value outside [0, vocab) that is not -100");
    }
    if ((flags & Abi.FLAG_GROUP_RANGE) != 0) {
      problems.add("groupIds hold a value outside [0, numGroups)");
    }
    if ((flags & Abi.FLAG_GROUP_SIZE) != 0) {
      problems.add("groupSizes hold a value < 1");
    }
    if ((flags & Abi.FLAG_GRAD_RANGE) != 0) {
      problems.add("the gradient does not fit f16: a row's coefficient dJ/ds reaches f16's largest value 65504, so "
          + "dJ/dlogits would hold infinities; use bf16 or f32 logits, or scale the loss down");
    }
    if ((flags & Abi.FLAG_GROUP_STATS) != 0) {
      problems.add("the group statistics are not finite (a batch whose inputs a kernel rejected, on this rank or "
          + "another), or their pair counts are not whole numbers >= 0 adding up to at least one pair");
    }
    String message = "grpo4j CUDA kernel rejected its inputs: " + String.join("; ", problems)
        + " (the group weights were not updated)";
    throw flags == Abi.FLAG_NON_FINITE ? new NonFiniteInputException(message) : new IllegalArgumentException(message);
  }

  /** As {@link #check}, where non-finite statistics are the usual sign of a poisoned batch. */
  static void checkGroupStep(int flags) {
    if (flags == Abi.FLAG_GROUP_STATS) {
      throw new NonFiniteInputException("grpo4j CUDA group step: the group statistics are not finite or count no "
          + "pairs (a batch whose inputs a kernel rejected, on this rank or another, poisons them); the group weights "
          + "were not updated");
    }
    check(flags);
  }
}
