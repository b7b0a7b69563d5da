package dev.grpo4j.bench;

import dev.grpo4j.LogitsType;

/** Logits element types the CPU backend supports, by their {@code @Param} names. */
enum Dtype {
  F32(LogitsType.F32),
  BF16(LogitsType.BF16);

  final LogitsType logitsType;

  Dtype(LogitsType logitsType) {
    this.logitsType = logitsType;
  }

  static Dtype parse(String name) {
    return switch (name) {
      case "f32" -> F32;
      case "bf16" -> BF16;
      default -> throw new IllegalArgumentException("dtype " + name + ": expected f32 or bf16");
    };
  }

  int bytes() {
    return logitsType.bytes();
  }
}
