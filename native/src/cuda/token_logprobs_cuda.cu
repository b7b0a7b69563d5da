// Pass 1 over the logits [rows, T, V]: for each position p with label y in [0, V)
//   max_p = max_v z[p][v],  log_sum_p = log sum_v exp(z[p][v] - max_p),  logp[p] = z[p][y] - max_p - log_sum_p.
// One read of the row, nothing else: each thread keeps an online (max, sum of exp) over its 16-byte vectors,
// 4 vectors in flight per trip, and folds each trip's max in once (one rescale per 32 bf16 elements, not per
// element). The threads of a position then combine their pairs in a fixed butterfly + shared-memory tree:
// no float atomics, so the result is bit-identical on every run.
//
// The statistics are kept as (max, log_sum), not max + log_sum, because pass 3 needs z - lse to full fp32
// precision: with logits around 1e4 a single fp32 lse would already be off by ~1e-3 in absolute terms.
// exp(x) is ex2((x - max) * log2 e): x - max is exact for the elements that matter, then one multiply.
//
// Threads per position come from V (logits_rows.cuh): a warp for short rows (4 positions per 128-thread
// block), 128/256/512 threads (one block) for long ones; 512 at V = 128256 gives ~8 trips per thread.
//
// Input problems become flag bits (integer atomicOr) and the first bad flat position (atomicMax of its
// complement; kept in the workspace, the ABI has no field for it): a label outside [0, V) other than -100,
// or a non-finite log-sum-exp or labelled logit (NaN or +inf anywhere in the row makes the sum NaN, a row
// of -inf makes the max -inf). Masked positions are never read.
#include <math.h>

#include "cuda_kernels.cuh"
#include "logits_rows.cuh"

namespace grpo4j {
namespace cuda {
namespace {

// Running (max, sum of exp(x - max)) with `kAcc` partial sums for instruction-level parallelism.
template <int kAcc>
struct OnlineSum {
  float max = -INFINITY;
  float sum[kAcc];

  __device__ __forceinline__ OnlineSum() {
#pragma unroll
    for (int a = 0; a < kAcc; ++a) sum[a] = 0.f;
  }

  // Folds in a chunk whose maximum is chunk_max; x[a][j] adds to partial sum a.
  template <int kPer>
  __device__ __forceinline__ void add(const float (&x)[kAcc][kPer], float chunk_max) {
    const float new_max = fmaxf(max, chunk_max);
    // While everything so far is -inf, subtract 0 instead of -inf: -inf - -inf would be NaN.
    const float offset = new_max == -INFINITY ? 0.f : new_max;
    const float rescale = ex2((max - offset) * kLog2e);
#pragma unroll
    for (int a = 0; a < kAcc; ++a) {
      float s = sum[a] * rescale;
#pragma unroll
      for (int j = 0; j < kPer; ++j) s += ex2((x[a][j] - offset) * kLog2e);
      sum[a] = s;
    }
    max = new_max;
  }

  // Folds in two single elements (the row's unaligned head and tail).
  __device__ __forceinline__ void add_pair(float a, float b) {
    const float new_max = fmaxf(max, fmaxf(a, b));
    const float offset = new_max == -INFINITY ? 0.f : new_max;
    const float rescale = ex2((max - offset) * kLog2e);
#pragma unroll
    for (int k = 0; k < kAcc; ++k) sum[k] *= rescale;
    sum[0] += ex2((a - offset) * kLog2e) + ex2((b - offset) * kLog2e);
    max = new_max;
  }
};

// (m, s) <- (m, s) (+) (m2, s2): the pair of the union of both element sets.
__device__ __forceinline__ void combine(float& m, float& s, float m2, float s2) {
  const float new_max = fmaxf(m, m2);
  const float offset = new_max == -INFINITY ? 0.f : new_max;
  s = s * ex2((m - offset) * kLog2e) + s2 * ex2((m2 - offset) * kLog2e);
  m = new_max;
}

__device__ __forceinline__ void warp_combine(float& m, float& s) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, offset);
    const float s2 = __shfl_xor_sync(0xffffffffu, s, offset);
    combine(m, s, m2, s2);
  }
}

__device__ __forceinline__ void raise_flag(FlagState* flags, int32_t bit, int64_t position) {
  atomicOr(&flags->flags, bit);
  atomicMax(&flags->first_bad_complement, ~(unsigned long long)position);
}

template <int FT, int kTPP, int kBlock>
__global__ void __launch_bounds__(kBlock) token_logprobs_kernel(const void* __restrict__ logits,
                                                                const void* __restrict__ labels, int32_t label_type,
                                                                int64_t positions, int32_t vocab,
                                                                float2* __restrict__ stats, float* __restrict__ logp,
                                                                FlagState* flags) {
  using Traits = ElementTraits<FT>;
  constexpr int kPer = Traits::kPerVector;
  constexpr int kPositionsPerBlock = kBlock / kTPP;
  constexpr int kWarps = kTPP / 32;
  static_assert(kTPP == 32 || kPositionsPerBlock == 1, "multi-warp positions take the whole block");
  __shared__ float shared_max[kWarps], shared_sum[kWarps];

  const int tid = threadIdx.x % kTPP;
  const uint4 neg_inf = make_uint4(Traits::kNegInfWord, Traits::kNegInfWord, Traits::kNegInfWord, Traits::kNegInfWord);

  // Every thread of a position runs the same trips, so the barriers below are uniform.
  for (int64_t pos = (int64_t)blockIdx.x * kPositionsPerBlock + threadIdx.x / kTPP; pos < positions;
       pos += (int64_t)gridDim.x * kPositionsPerBlock) {
    const int64_t label = load_label(labels, label_type, pos);
    if (label == GRPO4J_IGNORE_INDEX || label < 0 || label >= vocab) {
      if (tid == 0) {
        stats[pos] = make_float2(0.f, 0.f);
        logp[pos] = 0.f;
        if (label != GRPO4J_IGNORE_INDEX) raise_flag(flags, GRPO4J_FLAG_LABEL_RANGE, pos);
      }
      continue;
    }
    const unsigned char* row = static_cast<const unsigned char*>(logits) + pos * (int64_t)vocab * Traits::kBytes;
    // Issued first so that its latency hides behind the row.
    const float z_label = tid == 0 ? load_scalar<FT>(row, label) : 0.f;
    const RowSplit split = split_row<FT>(row, vocab);
    const uint4* vectors = reinterpret_cast<const uint4*>(row + (int64_t)split.head * Traits::kBytes);

    OnlineSum<kUnroll> acc;
    for (int32_t base = 0; base < split.vectors; base += kUnroll * kTPP) {
      uint4 raw[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int32_t i = base + u * kTPP + tid;
        raw[u] = i < split.vectors ? vectors[i] : neg_inf;
      }
      float x[kUnroll][kPer];
      float chunk_max = -INFINITY;
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        unpack<FT>(raw[u], x[u]);
#pragma unroll
        for (int j = 0; j < kPer; ++j) chunk_max = fmaxf(chunk_max, x[u][j]);
      }
      acc.add(x, chunk_max);
    }
    // Head and tail: fewer than kPer elements each, one per thread (kTPP >= 32 > kPer).
    if (tid < split.head || split.tail_start + tid < vocab)
      acc.add_pair(tid < split.head ? load_scalar<FT>(row, tid) : -INFINITY,
                   split.tail_start + tid < vocab ? load_scalar<FT>(row, split.tail_start + tid) : -INFINITY);

    float m = acc.max;
    float s = (acc.sum[0] + acc.sum[1]) + (acc.sum[2] + acc.sum[3]);
    warp_combine(m, s);
    if constexpr (kWarps > 1) {
      const int warp = tid / 32, lane = tid % 32;
      if (lane == 0) {
        shared_max[warp] = m;
        shared_sum[warp] = s;
      }
      __syncthreads();
      if (warp == 0) {
        m = lane < kWarps ? shared_max[lane] : -INFINITY;
        s = lane < kWarps ? shared_sum[lane] : 0.f;
        warp_combine(m, s);
      }
    }
    if (tid == 0) {
      const bool ok = finite_bits(m) && s > 0.f && finite_bits(s) && finite_bits(z_label);
      const float log_sum = ok ? (float)log((double)s) : 0.f;
      stats[pos] = make_float2(ok ? m : 0.f, log_sum);
      logp[pos] = ok ? (z_label - m) - log_sum : 0.f;
      if (!ok) raise_flag(flags, GRPO4J_FLAG_NON_FINITE, pos);
    }
    if constexpr (kWarps > 1) __syncthreads();  // shared_* are rewritten by the next trip
  }
}

template <int FT, int kTPP>
cudaError_t launch(const grpo4j_tokens& tk, float2* stats, float* logp, FlagState* flags, cudaStream_t stream) {
  constexpr int kBlock = block_threads(kTPP);
  const int64_t positions = tk.rows * tk.seq_len;
  GRPO4J_LAUNCH(grid_blocks(positions, kBlock / kTPP), kBlock, 0, stream, token_logprobs_kernel<FT, kTPP, kBlock>)(
      tk.logits, tk.labels, tk.label_type, positions, (int32_t)tk.vocab, stats, logp, flags);
  return cudaGetLastError();
}

template <int FT>
cudaError_t launch_for_type(const grpo4j_tokens& tk, float2* stats, float* logp, FlagState* flags,
                            cudaStream_t stream) {
  switch (threads_per_position(tk.vocab, FT)) {
    case 32: return launch<FT, 32>(tk, stats, logp, flags, stream);
    case 128: return launch<FT, 128>(tk, stats, logp, flags, stream);
    case 256: return launch<FT, 256>(tk, stats, logp, flags, stream);
    default: return launch<FT, 512>(tk, stats, logp, flags, stream);
  }
}

}  // namespace

cudaError_t launch_token_logprobs(const grpo4j_tokens& tk, float2* stats, float* logp, FlagState* flags,
                                  cudaStream_t stream) {
  if (tk.logits_type == GRPO4J_F32) return launch_for_type<GRPO4J_F32>(tk, stats, logp, flags, stream);
  if (tk.logits_type == GRPO4J_BF16) return launch_for_type<GRPO4J_BF16>(tk, stats, logp, flags, stream);
  return launch_for_type<GRPO4J_F16>(tk, stats, logp, flags, stream);
}

}  // namespace cuda
}  // namespace grpo4j
