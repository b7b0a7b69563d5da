// Phase 1's step after pass 1 (grpo4j_loss_statistics), as ONE single-block kernel (B pairs and K groups are
// small): s_r = sum of row r's labelled log-probs (row_sums.cuh), n_r -- or both as given, for
// grpo4j_sequence_statistics; for a sorting loss, the orders it reads (each pair writes its values at its places,
// found by counting: O(B) a pair); per pair h_i, l_i and dl_i/ds via pair_loss.h (the loss table), the pair
// outputs, dl/ds per row into the caller's workspace for phase 3; per group, over its
// pairs in index order, the GRPO4J_GROUP_STATS sums. One block so that the stages see each other through
// __syncthreads and every sum runs in a fixed order: bit-identical from run to run.
//
// Device-side inputs api.cpp cannot read are checked here: group ids outside [0, K) (GROUP_RANGE), non-finite
// ref_logps (NON_FINITE), plus pass 1's token flags. With any flag set, dl/ds is written as 0 (phase 3 then writes
// a zero gradient) and every group's loss sum as NaN: the statistics carry the failure through an all-reduce, so
// that no rank's group step moves the weights on them.
#include <math.h>

#include "../group_step.h"
#include "cuda_kernels.cuh"
#include "row_sums.cuh"

namespace grpo4j {
namespace cuda {
namespace {

constexpr int kStatisticsThreads = 512;

__global__ void __launch_bounds__(kStatisticsThreads) loss_statistics_kernel(const StatisticsArgs a) {
  GRPO4J_DYNAMIC_SHARED(double, dynamic_shared);
  const grpo4j_options& o = a.options;
  const grpo4j_outputs& out = a.out;
  const int64_t B = a.num_pairs, rows = a.rows;
  const int K = a.num_groups;
  const int tid = threadIdx.x, threads = blockDim.x;
  const int warp = tid / 32, lane = tid % 32, warps = threads / 32;
  __shared__ int32_t shared_flags;

  double* row_sum = a.row_sum;
  double* pair_loss = a.pair_loss;
  int32_t* row_count = a.row_count;
  if (a.use_shared) {
    row_sum = dynamic_shared;
    pair_loss = row_sum + rows;
    row_count = reinterpret_cast<int32_t*>(pair_loss + B);
  }
  if (tid == 0) shared_flags = 0;
  __syncthreads();

  int32_t local_flags = 0;
  if (a.sequence_logps) {
    for (int64_t r = tid; r < rows; r += threads) {
      row_sum[r] = (double)a.sequence_logps[r];
      row_count[r] = a.sequence_counts ? a.sequence_counts[r] : 1;
      if (!isfinite(row_sum[r])) local_flags |= GRPO4J_FLAG_NON_FINITE;
    }
  } else {
    for (int64_t r = warp; r < rows; r += warps) {
      double sum;
      int32_t count;
      warp_row_sum(a.labels, a.label_type, a.logp, a.seq_len, a.vocab, r, sum, count);
      if (lane == 0) {
        row_sum[r] = sum;
        row_count[r] = count;
      }
    }
  }
  for (int64_t i = tid; i < B; i += threads) {
    const int32_t g = a.group_ids[i];
    if (g < 0 || g >= K) local_flags |= GRPO4J_FLAG_GROUP_RANGE;
  }
  for (int64_t r = tid; r < rows; r += threads)
    if (!isfinite((double)a.ref_logps[r])) local_flags |= GRPO4J_FLAG_NON_FINITE;
  if (local_flags) atomicOr(&shared_flags, local_flags);
  __syncthreads();
  // Or-ing this step's bits into the shared flag word is idempotent, so no thread can read a different total.
  const int32_t flags = shared_flags | a.flags->flags;
  if (tid == 0 && shared_flags) atomicOr(&a.flags->flags, shared_flags);

  const PairRows pair_rows = {row_sum, a.ref_logps, a.group_ids, B};
  // The sorting losses' orders, by counting: each pair writes its values at its places (O(B) each).
  const bool sorts = (options_loss_flags(o) & GRPO4J_LOSS_SORTS) != 0;
  double* sorted = a.use_shared ? reinterpret_cast<double*>(row_count + rows) : a.sorted;
  if (sorts) {
    for (int64_t i = tid; i < B; i += threads)
      for (int key = 0; key < 3; ++key)
        sorted[key * B + sorted_position(pair_rows, key, i)] = pair_key(pair_rows, key, i);
    __syncthreads();
  }
  for (int64_t i = tid; i < B; i += threads) {
    const double chosen_ratio = row_sum[i] - (double)a.ref_logps[i];
    const double rejected_ratio = row_sum[B + i] - (double)a.ref_logps[B + i];
    SortedPairs places;
    if (sorts) {
      places.chosen_ratio = sorted;
      places.rejected_ratio = sorted + B;
      places.ref_margin = sorted + 2 * B;
      places.chosen_place = sorted_position(pair_rows, kChosenRatio, i);
      places.rejected_place = sorted_position(pair_rows, kRejectedRatio, i);
      places.margin_place = sorted_position(pair_rows, kMargin, i);
    }
    const PairTerms t = pair_terms(o, pair_rows, row_count, i, sorts ? &places : nullptr);
    pair_loss[i] = t.loss;
    a.dloss[i] = flags ? 0.0 : t.dloss_dchosen;
    a.dloss[B + i] = flags ? 0.0 : t.dloss_drejected;
    if (out.pair_loss) out.pair_loss[i] = (float)t.loss;
    if (out.pair_margin) out.pair_margin[i] = (float)(chosen_ratio - rejected_ratio);
    if (out.pair_chosen_reward) out.pair_chosen_reward[i] = (float)(o.beta * chosen_ratio);
    if (out.pair_rejected_reward) out.pair_rejected_reward[i] = (float)(o.beta * rejected_ratio);
    if (out.pair_chosen_logp) out.pair_chosen_logp[i] = (float)row_sum[i];
    if (out.pair_rejected_logp) out.pair_rejected_logp[i] = (float)row_sum[B + i];
  }
  __syncthreads();

  for (int g = tid; g < K; g += threads) {
    double s[GRPO4J_GROUP_STATS] = {0, 0, 0, 0, 0, 0, 0};
    for (int64_t i = 0; i < B; ++i) {
      if (a.group_ids[i] != g) continue;
      const double sw = row_sum[i], sl = row_sum[B + i];
      const double chosen_ratio = sw - (double)a.ref_logps[i];
      const double rejected_ratio = sl - (double)a.ref_logps[B + i];
      const double margin = chosen_ratio - rejected_ratio;
      s[GRPO4J_STAT_LOSS_SUM] += pair_loss[i];
      s[GRPO4J_STAT_PAIRS] += 1.0;
      s[GRPO4J_STAT_REWARD_HITS] += margin > 0 ? 1.0 : 0.0;
      s[GRPO4J_STAT_LOGP_HITS] += sw > sl ? 1.0 : 0.0;
      s[GRPO4J_STAT_CHOSEN_REWARD] += o.beta * chosen_ratio;
      s[GRPO4J_STAT_REJECTED_REWARD] += o.beta * rejected_ratio;
      s[GRPO4J_STAT_MARGIN] += margin;
    }
    if (flags) s[GRPO4J_STAT_LOSS_SUM] = NAN;
    for (int c = 0; c < GRPO4J_GROUP_STATS; ++c) a.group_stats[(int64_t)g * GRPO4J_GROUP_STATS + c] = s[c];
  }
  if (tid == 0 && out.flags) *out.flags = flags;
}

}  // namespace

cudaError_t launch_loss_statistics(const StatisticsArgs& args, cudaStream_t stream) {
  // Within the default 48 KB of shared memory a block may take without opting in (less the static part).
  constexpr size_t kSharedLimit = 48 * 1024 - 256;
  // row sums, pair losses, row counts, then (8-aligned: rows is even) the sorting losses' 3B orders.
  const size_t shared = sizeof(double) * (size_t)(args.rows + args.num_pairs) + sizeof(int32_t) * (size_t)args.rows +
                        sizeof(double) * (size_t)(3 * args.num_pairs);
  StatisticsArgs a = args;
  a.use_shared = shared <= kSharedLimit ? 1 : 0;
  GRPO4J_LAUNCH(1, kStatisticsThreads, a.use_shared ? shared : 0, stream, loss_statistics_kernel)(a);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace grpo4j
