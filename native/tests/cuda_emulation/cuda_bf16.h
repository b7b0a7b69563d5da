// Stands in for CUDA's bfloat16 header in the CPU emulation (emulation.h): the type and the conversions the grpo4j
// sources use, rounding to nearest even as the GPU does (internal.h's conversions).
#ifndef GRPO4J_CUDA_EMULATION_BF16_H
#define GRPO4J_CUDA_EMULATION_BF16_H

#include <stdint.h>

#include "../../src/internal.h"
#include "cuda_runtime.h"

struct __nv_bfloat16 {
  uint16_t bits;
};
struct alignas(4) __nv_bfloat162 {
  __nv_bfloat16 x, y;
};

inline __nv_bfloat16 __float2bfloat16_rn(float f) { return {grpo4j::float_to_bf16(f)}; }
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) {
  return {__float2bfloat16_rn(a), __float2bfloat16_rn(b)};
}

#endif
