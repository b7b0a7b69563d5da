// Launchers of the CUDA backend's kernels, one per .cu file, called by fused_loss_cuda.cu in stream order:
//   pass 1 token_logprobs  -> per-position softmax statistics, log-probs, input flags
//   step   group_step      -> row sums, pair and group math, weight update, outputs, coef per row
//   pass 3 logits_gradient -> dJ/dz = coef_r * (onehot - softmax)
// Each returns the launch's cudaError_t (cudaGetLastError right after the launch).
#ifndef GRPO4J_CUDA_KERNELS_CUH
#define GRPO4J_CUDA_KERNELS_CUH

#include <cuda_runtime.h>
#include <stdint.h>

#include "../internal.h"

namespace grpo4j {
namespace cuda {

// Flags word and the first flat position that raised a token flag (integer atomics: deterministic). The
// position is kept as its bitwise complement under atomicMax, so that one memset to zero initialises both.
struct FlagState {
  int32_t flags;
  int32_t reserved;
  unsigned long long first_bad_complement;  // ~position of the first bad position; 0: none
};

// Pass 1: for each position with a label in [0, V): stats[p] = {max_v z, log sum_v exp(z - max)} and
// logp[p] = z[label] - max - log_sum. Masked and out-of-range positions get {0, 0} and 0 and are not read.
cudaError_t launch_token_logprobs(const grpo4j_tokens& tokens, float2* stats, float* logp, FlagState* flags,
                                  cudaStream_t stream);

// Pass 3: grad[p][v] = coef[row(p)] * (onehot(label)[v] - exp(z[p][v] - max - log_sum)); zeros where the
// position is masked or coef is zero. grad may equal tokens.logits.
cudaError_t launch_logits_gradient(const grpo4j_tokens& tokens, void* grad, const float2* stats, const float* coef,
                                   cudaStream_t stream);

// Everything the single-block step kernel reads and writes. Device pointers; NULL outputs are skipped.
struct StepArgs {
  grpo4j_options options;
  const void* labels;
  int32_t label_type;
  int32_t num_groups;
  int64_t rows, seq_len, vocab, num_pairs;
  const float* logp;           // [rows * seq_len] from pass 1
  const float* ref_logps;      // [rows]
  const int32_t* group_ids;    // [B]
  const int64_t* group_sizes;  // [K] or NULL
  double* log_alpha;           // [K] or NULL
  int32_t train;
  int32_t use_shared;  // set by launch_group_step: the arrays below are replaced by shared memory
  int32_t logits_type; // grpo4j_float_type of the logits: f16 gradients are range-checked
  int32_t reserved;
  grpo4j_outputs out;
  // Workspace.
  FlagState* flags;
  float* coef;             // [rows], read by pass 3
  double* row_sum;         // [rows]
  int32_t* row_count;      // [rows]
  double* pair_loss;       // [B]
  double* pair_dchosen;    // [B]
  double* pair_drejected;  // [B]
  double* group_norm;      // [K]
  double* group_adjusted;  // [K] L_g + C / sqrt(N_g)
  double* group_alpha;     // [K] log alpha after this call's update
  double* group_w;         // [K]
  int32_t* group_n;        // [K] pairs in the batch
};

cudaError_t launch_group_step(const StepArgs& args, cudaStream_t stream);

// grpo4j_sequence_logprobs: logps[r] = sum of logp over the row's labelled positions, token_counts[r], flags.
cudaError_t launch_sequence_sums(const grpo4j_tokens& tokens, const float* logp, const FlagState* flags_in,
                                 float* logps, int32_t* token_counts, int32_t* flags_out, cudaStream_t stream);

}  // namespace cuda
}  // namespace grpo4j

#endif
