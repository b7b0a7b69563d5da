// Pass 3: dJ/dz[p][v] = coef_r * (onehot(y_p)[v] - exp(z[p][v] - max_p - log_sum_p)), r = row of p, written in
// the logits type (round to nearest even) to grad, which may be the logits buffer itself.
//
// The second and last read of the logits and the only write: 16-byte loads and stores, 4 vectors in flight
// per thread, the same row split as pass 1. The exponent is ex2(fma(z - max, log2 e, -log_sum * log2 e)):
// z - max first keeps full precision for large logits. Positions that are masked, or whose row has
// coef = 0 (forward-only rows, or every row when an input flag was raised), are written as zeros without
// reading the logits. In place is safe: each thread reads a vector before it writes the same vector, and
// no thread reads what another writes.
#include "../group_step.h"
#include "cuda_kernels.cuh"
#include "logits_rows.cuh"

namespace grpo4j {
namespace cuda {
namespace {

// kVectorStores: grad rows share the logits rows' 16-byte alignment (always true in place); otherwise the
// gradient is stored element by element, which is correct for any element-aligned buffer.
template <int FT, int kTPP, int kBlock, bool kVectorStores>
__global__ void __launch_bounds__(kBlock)
    logits_gradient_kernel(const void* logits, const void* __restrict__ labels, int32_t label_type,
                           int64_t positions, int64_t seq_len, int32_t vocab, void* grad,
                           const float2* __restrict__ stats, const float* __restrict__ coef_rows) {
  using Traits = ElementTraits<FT>;
  constexpr int kPer = Traits::kPerVector;
  constexpr int kPositionsPerBlock = kBlock / kTPP;
  const int tid = threadIdx.x % kTPP;

  for (int64_t pos = (int64_t)blockIdx.x * kPositionsPerBlock + threadIdx.x / kTPP; pos < positions;
       pos += (int64_t)gridDim.x * kPositionsPerBlock) {
    const int64_t label = load_label(labels, label_type, pos);
    const bool labelled = label != GRPO4J_IGNORE_INDEX && label >= 0 && label < vocab;
    const float coef = labelled ? coef_rows[pos / seq_len] : 0.f;
    const int64_t row_offset = pos * (int64_t)vocab * Traits::kBytes;
    const unsigned char* in = static_cast<const unsigned char*>(logits) + row_offset;
    unsigned char* out = static_cast<unsigned char*>(grad) + row_offset;
    const RowSplit split = split_row<FT>(in, vocab);
    const uint4* in_vectors = reinterpret_cast<const uint4*>(in + (int64_t)split.head * Traits::kBytes);
    uint4* out_vectors = reinterpret_cast<uint4*>(out + (int64_t)split.head * Traits::kBytes);

    if (coef == 0.f) {
      for (int32_t i = tid; i < split.vectors; i += kTPP) {
        if constexpr (kVectorStores) {
          out_vectors[i] = make_uint4(0u, 0u, 0u, 0u);
        } else {
#pragma unroll
          for (int j = 0; j < kPer; ++j) store_scalar<FT>(out, split.head + (int64_t)i * kPer + j, 0.f);
        }
      }
      if (tid < split.head) store_scalar<FT>(out, tid, 0.f);
      if (split.tail_start + tid < vocab) store_scalar<FT>(out, split.tail_start + tid, 0.f);
      continue;
    }

    const float2 st = stats[pos];
    const float max = st.x;
    const float neg_log_sum = -st.y * kLog2e;
    // Label index relative to the first vector, as an unsigned offset so one compare tests both bounds.
    const int32_t label_in_vectors = (int32_t)label - split.head;

    for (int32_t base = 0; base < split.vectors; base += kUnroll * kTPP) {
      uint4 raw[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int32_t i = base + u * kTPP + tid;
        if (i < split.vectors) raw[u] = in_vectors[i];
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int32_t i = base + u * kTPP + tid;
        if (i < split.vectors) {
          float x[kPer], e[kPer];
          unpack<FT>(raw[u], x);
#pragma unroll
          for (int j = 0; j < kPer; ++j) {
            e[j] = ex2(fmaf(x[j] - max, kLog2e, neg_log_sum));
            x[j] = -coef * e[j];
          }
          if ((uint32_t)(label_in_vectors - i * kPer) < (uint32_t)kPer) {
#pragma unroll
            for (int j = 0; j < kPer; ++j)
              if (i * kPer + j == label_in_vectors) x[j] = fmaf(coef, -e[j], coef);
          }
          if constexpr (kVectorStores) {
            out_vectors[i] = pack<FT>(x);
          } else {
#pragma unroll
            for (int j = 0; j < kPer; ++j) store_scalar<FT>(out, split.head + (int64_t)i * kPer + j, x[j]);
          }
        }
      }
    }
    // Unaligned head and tail, one element per thread.
    if (tid < split.head) {
      const float e = ex2(fmaf(load_scalar<FT>(in, tid) - max, kLog2e, neg_log_sum));
      store_scalar<FT>(out, tid, tid == label ? fmaf(coef, -e, coef) : -coef * e);
    }
    const int32_t t = split.tail_start + tid;
    if (t < vocab) {
      const float e = ex2(fmaf(load_scalar<FT>(in, t) - max, kLog2e, neg_log_sum));
      store_scalar<FT>(out, t, t == label ? fmaf(coef, -e, coef) : -coef * e);
    }
  }
}

template <int FT, int kTPP>
cudaError_t launch(const grpo4j_tokens& tk, void* grad, const float2* stats, const float* coef, cudaStream_t stream) {
  constexpr int kBlock = block_threads(kTPP);
  const int64_t positions = tk.rows * tk.seq_len;
  const unsigned int blocks = grid_blocks(positions, kBlock / kTPP);
  // Rows are the same length in both buffers, so equal base alignment mod 16 means equal row alignment.
  const bool vector_stores = ((reinterpret_cast<uintptr_t>(grad) - reinterpret_cast<uintptr_t>(tk.logits)) & 15u) == 0;
  if (vector_stores) {
    GRPO4J_LAUNCH(blocks, kBlock, 0, stream, logits_gradient_kernel<FT, kTPP, kBlock, true>)(
        tk.logits, tk.labels, tk.label_type, positions, tk.seq_len, (int32_t)tk.vocab, grad, stats, coef);
  } else {
    GRPO4J_LAUNCH(blocks, kBlock, 0, stream, logits_gradient_kernel<FT, kTPP, kBlock, false>)(
        tk.logits, tk.labels, tk.label_type, positions, tk.seq_len, (int32_t)tk.vocab, grad, stats, coef);
  }
  return cudaGetLastError();
}

template <int FT>
cudaError_t launch_for_type(const grpo4j_tokens& tk, void* grad, const float2* stats, const float* coef,
                            cudaStream_t stream) {
  switch (threads_per_position(tk.vocab, FT)) {
    case 32: return launch<FT, 32>(tk, grad, stats, coef, stream);
    case 128: return launch<FT, 128>(tk, grad, stats, coef, stream);
    case 256: return launch<FT, 256>(tk, grad, stats, coef, stream);
    default: return launch<FT, 512>(tk, grad, stats, coef, stream);
  }
}

// coef_r = dJ/dl_i * dl_i/ds_r for the rows of pair i, from phase 2's per-group dJ/dl and phase 1's per-row dl/ds,
// rounded to float once as the one-shot call always did. Group ids are device memory: one outside [0, K) gives
// coefficient 0 and GROUP_RANGE; a non-finite dJ/dl gives 0 and NON_FINITE; an f16 coefficient that f16 cannot
// hold gives GRAD_RANGE (group_step.h).
__global__ void row_coefficients_kernel(const int32_t* __restrict__ group_ids, int64_t pairs, int32_t groups,
                                        const double* __restrict__ group_coef, const double* __restrict__ dloss,
                                        int32_t logits_type, float* __restrict__ coef, int32_t* out_flags) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < pairs; i += (int64_t)gridDim.x * blockDim.x) {
    const int32_t g = group_ids[i];
    int32_t flags = 0;
    double dJ_dloss = 0.0;
    if (g < 0 || g >= groups) {
      flags |= GRPO4J_FLAG_GROUP_RANGE;
    } else if (!isfinite(group_coef[g])) {
      flags |= GRPO4J_FLAG_NON_FINITE;
    } else {
      dJ_dloss = group_coef[g];
    }
    const float chosen = (float)(dJ_dloss * dloss[i]), rejected = (float)(dJ_dloss * dloss[pairs + i]);
    coef[i] = chosen;
    coef[pairs + i] = rejected;
    if (f16_gradient_out_of_range(logits_type, chosen) || f16_gradient_out_of_range(logits_type, rejected))
      flags |= GRPO4J_FLAG_GRAD_RANGE;
    if (flags && out_flags) atomicOr(out_flags, flags);
  }
}

}  // namespace

cudaError_t launch_row_coefficients(const int32_t* group_ids, int64_t pairs, int32_t groups, const double* group_coef,
                                    const double* dloss, int32_t logits_type, float* coef, int32_t* out_flags,
                                    cudaStream_t stream) {
  constexpr int kThreads = 256;
  int64_t blocks = (pairs + kThreads - 1) / kThreads;
  if (blocks > 65535) blocks = 65535;
  GRPO4J_LAUNCH((unsigned int)blocks, kThreads, 0, stream, row_coefficients_kernel)(group_ids, pairs, groups,
                                                                                    group_coef, dloss, logits_type,
                                                                                    coef, out_flags);
  return cudaGetLastError();
}

cudaError_t launch_logits_gradient(const grpo4j_tokens& tk, void* grad, const float2* stats, const float* coef,
                                   cudaStream_t stream) {
  if (tk.logits_type == GRPO4J_F32) return launch_for_type<GRPO4J_F32>(tk, grad, stats, coef, stream);
  if (tk.logits_type == GRPO4J_BF16) return launch_for_type<GRPO4J_BF16>(tk, grad, stats, coef, stream);
  return launch_for_type<GRPO4J_F16>(tk, grad, stats, coef, stream);
}

}  // namespace cuda
}  // namespace grpo4j
