// grpo4j_sequence_logprobs after pass 1: logps[r] = s_r (the labelled positions' log-probs summed, in double,
// rounded once), token_counts[r] = n_r, and pass 1's input flags. A warp per row; rows are independent, so any
// number of blocks.
#include "cuda_kernels.cuh"
#include "row_sums.cuh"

namespace grpo4j {
namespace cuda {
namespace {

constexpr int kSumThreads = 256;

__global__ void __launch_bounds__(kSumThreads)
    sequence_sums_kernel(const void* __restrict__ labels, int32_t label_type, const float* __restrict__ logp,
                         int64_t rows, int64_t seq_len, int64_t vocab, const FlagState* __restrict__ flags_in,
                         float* __restrict__ logps, int32_t* __restrict__ token_counts, int32_t* __restrict__ flags_out) {
  constexpr int kWarps = kSumThreads / 32;
  for (int64_t r = (int64_t)blockIdx.x * kWarps + threadIdx.x / 32; r < rows; r += (int64_t)gridDim.x * kWarps) {
    double sum;
    int32_t count;
    warp_row_sum(labels, label_type, logp, seq_len, vocab, r, sum, count);
    if (threadIdx.x % 32 == 0) {
      logps[r] = (float)sum;
      if (token_counts) token_counts[r] = count;
    }
  }
  if (flags_out && blockIdx.x == 0 && threadIdx.x == 0) *flags_out = flags_in->flags;
}

}  // namespace

cudaError_t launch_sequence_sums(const grpo4j_tokens& tk, const float* logp, const FlagState* flags_in, float* logps,
                                 int32_t* token_counts, int32_t* flags_out, cudaStream_t stream) {
  constexpr int kRowsPerBlock = kSumThreads / 32;
  int64_t blocks = (tk.rows + kRowsPerBlock - 1) / kRowsPerBlock;
  if (blocks > 65535) blocks = 65535;
  GRPO4J_LAUNCH((unsigned int)blocks, kSumThreads, 0, stream, sequence_sums_kernel)(
      tk.labels, tk.label_type, logp, tk.rows, tk.seq_len, tk.vocab, flags_in, logps, token_counts, flags_out);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace grpo4j
