// Element-wise math for the CPU passes over the logits, written as plain branch-free loops that GCC
// vectorises for whatever instruction set the calling function is compiled for. The hot functions that
// use these helpers carry GRPO4J_CPU_CLONES: GCC then builds an AVX-512 (x86-64-v4), an AVX2/FMA
// (x86-64-v3) and a baseline SSE2 copy and picks one at load time (ifunc), so the library runs, unchanged,
// on any x86-64 and never executes an instruction the CPU lacks. The helpers are always_inline so that
// each clone gets its own vectorised copy of them.
//
// The library is built with -fno-trapping-math: otherwise GCC will not evaluate a float operation whose
// result a select may discard, turns such selects into branches, and leaves the loop scalar on targets
// without AVX-512's masked operations.
//
// Reductions keep kLanes independent accumulators in a fixed layout and combine them in a fixed order:
// the result depends only on the data, never on the thread that computes it.
#ifndef GRPO4J_CPU_VECTOR_MATH_H
#define GRPO4J_CPU_VECTOR_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../internal.h"

#define GRPO4J_CPU_INLINE inline __attribute__((always_inline))

// A build may define GRPO4J_CPU_CLONES empty to compile the hot loops for its -march alone (for example
// to test the baseline SSE2 or the AVX2 code on a machine whose CPU would pick the AVX-512 clone).
#ifndef GRPO4J_CPU_CLONES
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GRPO4J_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GRPO4J_CPU_CLONES
#endif
#endif

namespace grpo4j {
namespace cpu {

// Accumulators per reduction: two AVX-512 registers, four AVX2 or eight SSE registers, enough independent
// chains to hide the latency of the adds behind the exp polynomial.
constexpr int kLanes = 32;

// Elements of one row handled per block: 16 KiB of floats stay in L1 for the rare second sweep of pass 1
// and between the exp and the store of the gradient in pass 3, so each element comes from memory once.
constexpr int64_t kBlock = 4096;

// A block is summed relative to a shift chosen before its max is known; while its max exceeds the shift
// by at most this much, kBlock terms exp(z - shift) <= e^64 cannot overflow the float sum.
constexpr float kMaxShiftGap = 64.0f;

GRPO4J_CPU_INLINE uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

GRPO4J_CPU_INLINE float bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

// exp(x) for x <= 88 (the callers pass z - shift <= 64) within 2.5 ulp; 0 below ln(FLT_MIN), so
// exp(-inf) = 0; NaN for NaN. exp(x) = 2^n * exp(r) with n = round(x / ln2): adding 1.5 * 2^23 rounds
// x / ln2 to an integer held in the low mantissa bits, which also give 2^n by an integer shift, so there is
// no float-to-int conversion and no branch. r = x - n ln2 uses ln2 split in two (the first part with few
// mantissa bits, so n * ln2_hi is exact even without FMA); exp(r) on [-ln2/2, ln2/2] is a degree-5
// minimax polynomial (coefficients fitted for float, 1.8 ulp) with exp(0) = 1 exactly. Degree 5 rather
// than Cephes' 7 saves three multiply-adds per element: this polynomial is most of the arithmetic of both
// passes.
GRPO4J_CPU_INLINE float exp_approx(float x) {
  const float shifter = 12582912.0f;  // 1.5 * 2^23
  const float t = x * 1.44269504088896341f + shifter;
  const float n = t - shifter;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 8.29896424e-3f;
  p = p * r + 4.18914966e-2f;
  p = p * r + 1.66673273e-1f;
  p = p * r + 4.99992162e-1f;
  p = p * r + 9.99999940e-1f;
  p = p * r + 1.0f;
  const float scale = bits_float((float_bits(t) - float_bits(shifter) + 127u) << 23);
  // An integer mask rather than a float select keeps the polynomial unconditional even without
  // -fno-trapping-math (see the top of this file).
  const uint32_t keep = x < -87.33654475f ? 0u : 0xffffffffu;
  return bits_float(float_bits(p * scale) & keep);
}

GRPO4J_CPU_INLINE float bf16_load(uint16_t h) { return bits_float((uint32_t)h << 16); }

// Same results as grpo4j::f16_to_float, without branches: normal halves move their exponent by 112,
// infinities and NaNs by 224, and subnormals are renormalised by one float subtraction.
GRPO4J_CPU_INLINE float f16_load(uint16_t h) {
  const uint32_t magnitude = (uint32_t)(h & 0x7fffu) << 13;
  const uint32_t exponent = magnitude & 0x0f800000u;
  const uint32_t normal = magnitude + (112u << 23);
  const uint32_t special = normal + (112u << 23);
  const uint32_t subnormal = float_bits(bits_float(normal + (1u << 23)) - 6.103515625e-05f);
  const uint32_t u = exponent == 0x0f800000u ? special : (exponent == 0 ? subnormal : normal);
  return bits_float(u | ((uint32_t)(h & 0x8000u) << 16));
}

// Same results as grpo4j::float_to_bf16 (round to nearest even, NaN kept quiet).
GRPO4J_CPU_INLINE uint16_t bf16_store(float f) {
  const uint32_t u = float_bits(f);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const uint32_t nan = (u >> 16) | 0x40u;
  return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

// Same results as grpo4j::float_to_f16 (round to nearest even, subnormals, overflow to infinity, NaN).
// Normal halves: rebias the exponent and round on bit 13 with the carry of the add; subnormal halves:
// adding 0.5f makes the float adder round the mantissa into the low bits.
GRPO4J_CPU_INLINE uint16_t f16_store(float f) {
  const uint32_t u = float_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7fffffffu;
  const uint32_t subnormal = float_bits(bits_float(a) + 0.5f) - float_bits(0.5f);
  const uint32_t normal = (a + 0xc8000fffu + ((a >> 13) & 1u)) >> 13;
  const uint32_t overflow = a > 0x7f800000u ? 0x7e00u : 0x7c00u;
  const uint32_t h = a >= 0x47800000u ? overflow : (a < 0x38800000u ? subnormal : normal);
  return (uint16_t)(h | sign);
}

template <int32_t Type>
GRPO4J_CPU_INLINE float load_element(const void* base, int64_t i) {
  if (Type == GRPO4J_F32) return ((const float*)base)[i];
  const uint16_t h = ((const uint16_t*)base)[i];
  return Type == GRPO4J_BF16 ? bf16_load(h) : f16_load(h);
}

// Narrows n floats to a 16-bit type.
template <int32_t Type>
GRPO4J_CPU_INLINE void narrow(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = Type == GRPO4J_BF16 ? bf16_store(src[i]) : f16_store(src[i]);
}

// One sweep over n elements: returns sum_i exp(x_i - shift) and stores the largest element in *max_out.
// NaNs are skipped by the max (x > m is false for them) and make the sum NaN. Taking both in the same loop
// keeps loads and arithmetic interleaved, so the hardware prefetcher streams the row while the exp
// polynomial runs; the caller picks `shift` before it knows the block's max and redoes the (L1-resident)
// block in the rare case the max lies too far above it.
template <int32_t Type>
GRPO4J_CPU_INLINE float block_max_sum_exp(const void* src, int64_t n, float shift, float* max_out) {
  float top[kLanes], sum[kLanes];
  for (int j = 0; j < kLanes; ++j) {
    top[j] = -INFINITY;
    sum[j] = 0.0f;
  }
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) {
      const float x = load_element<Type>(src, i + j);
      top[j] = x > top[j] ? x : top[j];
      sum[j] += exp_approx(x - shift);
    }
  }
  for (; i < n; ++i) {
    const float x = load_element<Type>(src, i);
    top[0] = x > top[0] ? x : top[0];
    sum[0] += exp_approx(x - shift);
  }
  for (int width = kLanes / 2; width > 0; width /= 2) {
    for (int j = 0; j < width; ++j) {
      top[j] = top[j + width] > top[j] ? top[j + width] : top[j];
      sum[j] += sum[j + width];
    }
  }
  *max_out = top[0];
  return sum[0];
}

// sum_i exp(x_i - shift) alone, for the redo of a block.
template <int32_t Type>
GRPO4J_CPU_INLINE float block_sum_exp(const void* src, int64_t n, float shift) {
  float sum[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) sum[j] += exp_approx(load_element<Type>(src, i + j) - shift);
  for (; i < n; ++i) sum[0] += exp_approx(load_element<Type>(src, i) - shift);
  for (int width = kLanes / 2; width > 0; width /= 2)
    for (int j = 0; j < width; ++j) sum[j] += sum[j + width];
  return sum[0];
}

// out_i = -coef * softmax_i with softmax_i = exp((x_i - max) - log_sum): the gradient of every element but
// the label's. Subtracting max and log_sum separately (instead of one rounded log-sum-exp) keeps the
// exponent accurate to a few ulp of |x_i - max| even when the logits are large.
template <int32_t Type>
GRPO4J_CPU_INLINE void block_negative_scaled_softmax(const void* src, float* out, int64_t n, float max,
                                                    float log_sum, float coef) {
  for (int64_t i = 0; i < n; ++i) out[i] = -coef * exp_approx((load_element<Type>(src, i) - max) - log_sum);
}

}  // namespace cpu
}  // namespace grpo4j

#endif
