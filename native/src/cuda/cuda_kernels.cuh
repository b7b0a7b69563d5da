// Launchers of the CUDA backend's kernels, called by fused_loss_cuda.cu in stream order:
//   phase 1 token_logprobs   -> per-position softmax statistics, log-probs, token flags
//           loss_statistics  -> row sums, pair terms and outputs, dl/ds per row, group statistics
//   phase 2 group_step       -> L_g, weight update, w_g, J, group outputs, dJ/dl per group
//   phase 3 row_coefficients -> coef_r = dJ/dl * dl/ds_r
//           logits_gradient  -> dJ/dz = coef_r * (onehot - softmax)
// Each returns the launch's cudaError_t (cudaGetLastError right after the launch).
#ifndef GRPO4J_CUDA_KERNELS_CUH
#define GRPO4J_CUDA_KERNELS_CUH

#include <cuda_runtime.h>
#include <stdint.h>

#include "../internal.h"
#include "launch.cuh"

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

// Phase 1's single-block step after pass 1 (loss_statistics_cuda.cu). Device pointers; NULL outputs are skipped.
struct StatisticsArgs {
  grpo4j_options options;
  const void* labels;
  int32_t label_type;
  int32_t num_groups;
  int64_t rows, seq_len, vocab, num_pairs;
  const float* logp;          // [rows * seq_len] from pass 1; not read when sequence_logps is set
  const float* sequence_logps;     // [rows] s_r given by the caller (grpo4j_sequence_statistics), or NULL
  const int32_t* sequence_counts;  // [rows] n_r with sequence_logps, or NULL (all 1)
  const float* ref_logps;     // [rows]
  const int32_t* group_ids;   // [B]
  FlagState* flags;           // pass 1's flags; this step ors its own into flags->flags
  grpo4j_outputs out;         // pair_* and flags are written
  double* dloss;              // [rows] dl_i/ds_r, read by phase 3 (the caller's workspace)
  double* group_stats;        // [K][GRPO4J_GROUP_STATS]
  int32_t use_shared;         // set by launch_loss_statistics: the scratch below is replaced by shared memory
  int32_t reserved;
  double* row_sum;            // [rows] scratch
  double* pair_loss;          // [B] scratch
  int32_t* row_count;         // [rows] scratch
  double* sorted;             // [3B] scratch: the sorting losses' orders (pair_loss.h's SortedPairs)
};

cudaError_t launch_loss_statistics(const StatisticsArgs& args, cudaStream_t stream);

// Phase 2's single-block kernel (group_step_cuda.cu).
struct GroupStepArgs {
  grpo4j_options options;
  int32_t num_groups;
  int32_t update_weights;
  const double* group_stats;      // [K][GRPO4J_GROUP_STATS]
  const int64_t* group_sizes;     // [K] or NULL
  double* log_alpha;              // [K]; read and updated only for ROBUST
  double* group_coef;             // [K] dJ/dl_i per group, or NULL
  const FlagState* upstream_flags;  // inside a one-shot call: phase 1's flags (nonzero: skip); else NULL
  grpo4j_outputs out;             // loss, group_* and flags (or-ed)
  // Scratch [K].
  double *norm, *group_loss, *adjusted, *alpha, *weight;
  int32_t* count;
};

cudaError_t launch_group_step(const GroupStepArgs& args, cudaStream_t stream);

// Phase 3's coefficients: coef[r] = (float)(group_coef[g_i] * dloss[r]) for the rows r of pair i; problems or-ed
// into out_flags (may be NULL).
cudaError_t launch_row_coefficients(const int32_t* group_ids, int64_t pairs, int32_t groups, const double* group_coef,
                                    const double* dloss, int32_t logits_type, float* coef, int32_t* out_flags,
                                    cudaStream_t stream);

// grpo4j_sequence_logprobs: logps[r] = sum of logp over the row's labelled positions, token_counts[r], flags.
cudaError_t launch_sequence_sums(const grpo4j_tokens& tokens, const float* logp, const FlagState* flags_in,
                                 float* logps, int32_t* token_counts, int32_t* flags_out, cudaStream_t stream);

}  // namespace cuda
}  // namespace grpo4j

#endif
