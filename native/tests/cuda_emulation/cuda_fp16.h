// Stands in for CUDA's half-precision header in the CPU emulation (emulation.h): the type and the conversions the
// grpo4j sources use, rounding to nearest even as the GPU does (internal.h's conversions).
#ifndef GRPO4J_CUDA_EMULATION_FP16_H
#define GRPO4J_CUDA_EMULATION_FP16_H

#include <stdint.h>

#include "../../src/internal.h"
#include "cuda_runtime.h"

struct __half {
  uint16_t bits;
};
struct alignas(4) __half2 {
  __half x, y;
};

inline float __half2float(__half h) { return grpo4j::f16_to_float(h.bits); }
inline __half __float2half_rn(float f) { return {grpo4j::float_to_f16(f)}; }
inline float2 __half22float2(__half2 h) { return make_float2(__half2float(h.x), __half2float(h.y)); }
inline __half2 __floats2half2_rn(float a, float b) { return {__float2half_rn(a), __float2half_rn(b)}; }

#endif
