// Device helpers shared by the two passes over the logits (token_logprobs_cuda.cu, logits_gradient_cuda.cu):
// 16-byte vector loads and stores in the three element types, the split of a row into an unaligned head,
// aligned 16-byte vectors and a tail, and the choice of threads per position.
//
// Rows are V elements long and V may be odd, so a row usually starts off a 16-byte boundary: each row is
// peeled separately (head < 8 elements), which keeps every vector access aligned and coalesced.
#ifndef GRPO4J_LOGITS_ROWS_CUH
#define GRPO4J_LOGITS_ROWS_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "../internal.h"

namespace grpo4j {
namespace cuda {

constexpr float kLog2e = 1.4426950408889634f;
// Vectors each thread keeps in flight per loop trip: 4 x 16 B.
constexpr int kUnroll = 4;

template <int FT>
struct ElementTraits {
  static constexpr int kBytes = FT == GRPO4J_F32 ? 4 : 2;
  static constexpr int kPerVector = 16 / kBytes;
  // A vector of -infinity: padding that changes neither the running max nor the sum of exponentials.
  static constexpr uint32_t kNegInfWord = FT == GRPO4J_F32 ? 0xff800000u : FT == GRPO4J_BF16 ? 0xff80ff80u
                                                                                              : 0xfc00fc00u;
};

// 2^x by the special-function unit (ex2.approx: ~2 ulp; -inf -> +0, NaN -> NaN), independent of -use_fast_math.
__device__ __forceinline__ float ex2(float x) {
#if defined(GRPO4J_CUDA_EMULATION)
  return exp2f(x);
#else
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
#endif
}

// Finite test on the bits, so that no fast-math assumption can fold it away.
__device__ __forceinline__ bool finite_bits(float x) { return (__float_as_uint(x) & 0x7f800000u) != 0x7f800000u; }

template <int FT>
__device__ __forceinline__ void unpack(const uint4& v, float (&x)[ElementTraits<FT>::kPerVector]) {
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    if constexpr (FT == GRPO4J_F32) {
      x[k] = __uint_as_float(w[k]);
    } else if constexpr (FT == GRPO4J_BF16) {
      // bf16 is the high half of a float: two integer ops per pair, no conversion unit.
      x[2 * k] = __uint_as_float(w[k] << 16);
      x[2 * k + 1] = __uint_as_float(w[k] & 0xffff0000u);
    } else {
      __half2 h;
      memcpy(&h, &w[k], 4);
      const float2 f = __half22float2(h);
      x[2 * k] = f.x;
      x[2 * k + 1] = f.y;
    }
  }
}

template <int FT>
__device__ __forceinline__ uint4 pack(const float (&x)[ElementTraits<FT>::kPerVector]) {
  uint32_t w[4];
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    if constexpr (FT == GRPO4J_F32) {
      w[k] = __float_as_uint(x[k]);
    } else if constexpr (FT == GRPO4J_BF16) {
      const __nv_bfloat162 b = __floats2bfloat162_rn(x[2 * k], x[2 * k + 1]);  // round to nearest even
      memcpy(&w[k], &b, 4);
    } else {
      const __half2 h = __floats2half2_rn(x[2 * k], x[2 * k + 1]);
      memcpy(&w[k], &h, 4);
    }
  }
  return make_uint4(w[0], w[1], w[2], w[3]);
}

template <int FT>
__device__ __forceinline__ float load_scalar(const unsigned char* row, int64_t i) {
  if constexpr (FT == GRPO4J_F32) {
    return reinterpret_cast<const float*>(row)[i];
  } else if constexpr (FT == GRPO4J_BF16) {
    return __uint_as_float((uint32_t)reinterpret_cast<const uint16_t*>(row)[i] << 16);
  } else {
    return __half2float(reinterpret_cast<const __half*>(row)[i]);
  }
}

template <int FT>
__device__ __forceinline__ void store_scalar(unsigned char* row, int64_t i, float value) {
  if constexpr (FT == GRPO4J_F32) {
    reinterpret_cast<float*>(row)[i] = value;
  } else if constexpr (FT == GRPO4J_BF16) {
    reinterpret_cast<__nv_bfloat16*>(row)[i] = __float2bfloat16_rn(value);
  } else {
    reinterpret_cast<__half*>(row)[i] = __float2half_rn(value);
  }
}

// A row of V elements: [0, head) scalars up to the first 16-byte boundary, then `vectors` aligned 16-byte
// vectors, then [tail_start, V) scalars. head and V - tail_start are both < elements per vector.
struct RowSplit {
  int32_t head;
  int32_t vectors;
  int32_t tail_start;
};

template <int FT>
__device__ __forceinline__ RowSplit split_row(const unsigned char* row, int32_t vocab) {
  constexpr int kBytes = ElementTraits<FT>::kBytes, kPer = ElementTraits<FT>::kPerVector;
  const uint32_t misalign = (uint32_t)(reinterpret_cast<uintptr_t>(row) & 15u);
  int32_t head = (int32_t)(((16u - misalign) & 15u) / kBytes);
  head = head < vocab ? head : vocab;
  RowSplit s;
  s.head = head;
  s.vectors = (vocab - head) / kPer;
  s.tail_start = head + s.vectors * kPer;
  return s;
}

// Threads that share one position: a warp for short rows (several positions per block), a whole block for
// long ones, so that each thread still has a few vectors to keep in flight.
inline int threads_per_position(int64_t vocab, int32_t float_type) {
  const int64_t vectors = vocab / (16 / element_size(float_type));
  if (vectors < 256) return 32;
  if (vectors < 1024) return 128;
  if (vectors < 4096) return 256;
  return 512;
}

// Threads per block for a given threads-per-position: warp-per-position kernels pack 4 positions per block.
constexpr int block_threads(int threads_per_position) { return threads_per_position < 128 ? 128 : threads_per_position; }

// Blocks for `positions` positions at `per_block` per block; the kernels stride over the rest.
inline unsigned int grid_blocks(int64_t positions, int per_block) {
  const int64_t blocks = (positions + per_block - 1) / per_block;
  return (unsigned int)(blocks < 0x7fffffffLL ? blocks : 0x7fffffffLL);
}

}  // namespace cuda
}  // namespace grpo4j

#endif
