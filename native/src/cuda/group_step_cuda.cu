// Phase 2 (grpo4j_group_step) as ONE single-block kernel, from group statistics in device memory (one batch's, or
// several summed by an all-reduce): B = sum of the pair counts; per group L_g = norm_g * sum l, A_g = L_g +
// C/sqrt(N_g); the exponentiated-gradient update of log alpha (ROBUST, when asked; serial over K in group_step.h's
// fixed order); w_g; J = sum_g w_g A_g (AVERAGE: sum_g (sum l) / B); the group outputs; dJ/dl_i per group for
// phase 3. The expressions are group_step.h's and the CPU backend's, in double, in the same order.
//
// The statistics, N_g and log alpha live on the device, so they are checked here and problems reported through
// out.flags: statistics not finite, or pair counts that are not whole numbers in [0, 2^31) adding up to at least
// one pair (GROUP_STATS); N_g < 1 where N_g is used (GROUP_SIZE); a non-finite log alpha (NON_FINITE). With a flag
// set -- or, inside a one-shot call, when phase 1 raised one -- log alpha stays untouched, every dJ/dl is 0 (phase
// 3 then writes a zero gradient) and the other outputs are not written.
#include <math.h>

#include "../group_step.h"
#include "cuda_kernels.cuh"

namespace grpo4j {
namespace cuda {
namespace {

constexpr int kStepThreads = 256;

__device__ int32_t check_statistics(const GroupStepArgs& a, long long* pairs) {
  const grpo4j_options& o = a.options;
  int32_t flags = 0;
  double total = 0.0;
  for (int g = 0; g < a.num_groups; ++g) {
    const double* row = a.group_stats + (int64_t)g * GRPO4J_GROUP_STATS;
    for (int c = 0; c < GRPO4J_GROUP_STATS; ++c)
      if (!isfinite(row[c])) flags |= GRPO4J_FLAG_GROUP_STATS;
    const double n = row[GRPO4J_STAT_PAIRS];
    if (!(n >= 0) || n != floor(n) || n > 2147483647.0) flags |= GRPO4J_FLAG_GROUP_STATS;
    total += n;
    if (needs_group_sizes(o) && a.group_sizes[g] < 1) flags |= GRPO4J_FLAG_GROUP_SIZE;
    if (o.weighting == GRPO4J_WEIGHTING_ROBUST && !isfinite(a.log_alpha[g])) flags |= GRPO4J_FLAG_NON_FINITE;
  }
  if (!(total >= 1)) flags |= GRPO4J_FLAG_GROUP_STATS;
  *pairs = flags ? 0 : (long long)total;
  return flags;
}

__global__ void __launch_bounds__(kStepThreads) group_step_kernel(const GroupStepArgs a) {
  const grpo4j_options& o = a.options;
  const grpo4j_outputs& out = a.out;
  const int K = a.num_groups;
  const int tid = threadIdx.x, threads = blockDim.x;
  const bool robust = o.weighting == GRPO4J_WEIGHTING_ROBUST;
  __shared__ int32_t shared_flags, shared_skip;
  __shared__ long long shared_pairs, shared_dataset_size;
  __shared__ double shared_inverse_size_sum;

  if (tid == 0) {
    shared_skip = a.upstream_flags && a.upstream_flags->flags != 0;
    long long pairs = 0;
    shared_flags = shared_skip ? 0 : check_statistics(a, &pairs);
    shared_pairs = pairs;
    long long dataset_size = 0;
    double inverse_size_sum = 0.0;
    if (a.group_sizes && !shared_skip && !shared_flags) {
      for (int g = 0; g < K; ++g) dataset_size += a.group_sizes[g];
      for (int g = 0; g < K; ++g) inverse_size_sum += 1.0 / (double)a.group_sizes[g];
    }
    shared_dataset_size = dataset_size;
    shared_inverse_size_sum = inverse_size_sum;
  }
  __syncthreads();
  if (shared_skip || shared_flags) {
    if (a.group_coef)
      for (int g = tid; g < K; g += threads) a.group_coef[g] = 0.0;
    if (tid == 0 && out.flags && shared_flags) atomicOr(out.flags, shared_flags);
    return;
  }
  const long long B = shared_pairs;

  for (int g = tid; g < K; g += threads) {
    const double* s = a.group_stats + (int64_t)g * GRPO4J_GROUP_STATS;
    a.count[g] = (int32_t)s[GRPO4J_STAT_PAIRS];
    a.norm[g] = group_normaliser(o, a.count[g], a.group_sizes ? a.group_sizes[g] : 0, shared_dataset_size, B);
    a.group_loss[g] = a.norm[g] * s[GRPO4J_STAT_LOSS_SUM];
    a.adjusted[g] = a.group_loss[g] + group_adjustment(o, a.group_sizes, g);
    a.alpha[g] = robust ? a.log_alpha[g] : 0.0;
  }
  __syncthreads();
  const bool update = robust && a.update_weights;
  if (tid == 0 && update) robust_weight_update(a.alpha, a.adjusted, K, o.eta);
  __syncthreads();
  for (int g = tid; g < K; g += threads) {
    if (update) a.log_alpha[g] = a.alpha[g];
    a.weight[g] = group_weight(o, a.alpha, a.group_sizes, shared_inverse_size_sum, a.count[g], B, g, K);
  }
  __syncthreads();

  if (tid == 0 && out.loss) {
    double objective = 0.0;
    if (o.weighting == GRPO4J_WEIGHTING_AVERAGE) {
      for (int g = 0; g < K; ++g) objective += a.group_stats[(int64_t)g * GRPO4J_GROUP_STATS + GRPO4J_STAT_LOSS_SUM];
      objective /= (double)B;
    } else {
      for (int g = 0; g < K; ++g) objective += a.weight[g] * a.adjusted[g];
    }
    *out.loss = (float)objective;
  }
  for (int g = tid; g < K; g += threads) {
    const double* s = a.group_stats + (int64_t)g * GRPO4J_GROUP_STATS;
    const double n = a.count[g] > 0 ? (double)a.count[g] : 1.0;
    if (out.group_loss) out.group_loss[g] = (float)a.group_loss[g];
    if (out.group_weight) out.group_weight[g] = (float)a.weight[g];
    if (out.group_count) out.group_count[g] = a.count[g];
    if (out.group_reward_accuracy) out.group_reward_accuracy[g] = (float)(s[GRPO4J_STAT_REWARD_HITS] / n);
    if (out.group_logp_accuracy) out.group_logp_accuracy[g] = (float)(s[GRPO4J_STAT_LOGP_HITS] / n);
    if (out.group_chosen_reward) out.group_chosen_reward[g] = (float)(s[GRPO4J_STAT_CHOSEN_REWARD] / n);
    if (out.group_rejected_reward) out.group_rejected_reward[g] = (float)(s[GRPO4J_STAT_REJECTED_REWARD] / n);
    if (out.group_margin) out.group_margin[g] = (float)(s[GRPO4J_STAT_MARGIN] / n);
    if (a.group_coef)
      a.group_coef[g] = o.weighting == GRPO4J_WEIGHTING_AVERAGE ? 1.0 / (double)B : a.weight[g] * a.norm[g];
  }
}

}  // namespace

cudaError_t launch_group_step(const GroupStepArgs& args, cudaStream_t stream) {
  GRPO4J_LAUNCH(1, kStepThreads, 0, stream, group_step_kernel)(args);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace grpo4j
