// A row's labelled log-prob sum s_r and count n_r from pass 1's per-position log-probs, by one warp, in a fixed
// order (lane-strided, then a fixed shuffle tree) so that the sums are bit-identical from run to run. Shared by the
// pair statistics (phase 1) and grpo4j_sequence_logprobs.
#ifndef GRPO4J_ROW_SUMS_CUH
#define GRPO4J_ROW_SUMS_CUH

#include <stdint.h>

#include "../internal.h"

namespace grpo4j {
namespace cuda {

// Every lane of the calling warp gets the same values. Lane l adds positions l, l + 32, l + 64, ... in that order;
// the loads of kAhead positions are issued before the first is added, since this loop is latency-bound (pass 1
// wrote logp for every position, masked ones too).
__device__ __forceinline__ void warp_row_sum(const void* labels, int32_t label_type, const float* logp,
                                             int64_t seq_len, int64_t vocab, int64_t r, double& sum, int32_t& count) {
  constexpr int kAhead = 4;
  const int lane = threadIdx.x % 32;
  sum = 0.0;
  count = 0;
  for (int64_t t0 = lane; t0 < seq_len; t0 += 32 * kAhead) {
    int64_t label[kAhead];
    float value[kAhead];
#pragma unroll
    for (int k = 0; k < kAhead; ++k) {
      const int64_t t = t0 + 32 * k;
      label[k] = t < seq_len ? load_label(labels, label_type, r * seq_len + t) : GRPO4J_IGNORE_INDEX;
      value[k] = t < seq_len ? logp[r * seq_len + t] : 0.f;
    }
#pragma unroll
    for (int k = 0; k < kAhead; ++k) {
      if (label[k] >= 0 && label[k] < vocab) {
        sum += (double)value[k];
        ++count;
      }
    }
  }
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    sum += __shfl_xor_sync(0xffffffffu, sum, offset);
    count += __shfl_xor_sync(0xffffffffu, count, offset);
  }
}

}  // namespace cuda
}  // namespace grpo4j

#endif
