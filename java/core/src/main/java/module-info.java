/**
 * grpo4j-core: the fused group-robust preference loss (GR-DPO / GR-IPO and the DPO / IPO baselines) on memory
 * segments, through the Foreign Function and Memory API. Only {@code dev.grpo4j} is the API; the FFM bindings stay
 * inside. Grant native access with {@code --enable-native-access=dev.grpo4j.core} (module path) or
 * {@code ALL-UNNAMED} (class path).
 */
module dev.grpo4j.core {
  exports dev.grpo4j;
}
