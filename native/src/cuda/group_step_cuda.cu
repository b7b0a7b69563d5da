// The step between the two passes, as ONE single-block kernel (B pairs and K groups are small):
//   s_r = sum of the labelled positions' log-probs of row r (double; a warp per row, lane-strided, then a
//   fixed shuffle tree), n_r = labelled positions; h, l_i, dl/ds via group_step.h; per group, over its
//   pairs in index order: L_g, metrics; A_g = L_g + C/sqrt(N_g); the robust weight update (training,
//   ROBUST, and only when no input flag is set); w_g; J; coef_r = dJ/ds_r for pass 3.
// One block so that every stage sees the previous one through __syncthreads instead of further launches,
// and every reduction runs in a fixed order: the outputs are bit-identical from run to run. The math is
// group_step.h, shared with the CPU backend, in double like the reference. The per-pair and per-group
// arrays sit in shared memory whenever they fit (about B < 700 at small K), else in the global workspace.
// Measured on an H100: ~18 us at B = 4, K = 2, T = 512, mostly barrier waits behind the serial stages;
// negligible beside the two passes at realistic sizes (0.4% of a call at 16384 tokens x V = 128256).
//
// Inputs that live on the device and that api.cpp therefore cannot check are checked here and reported
// through the flags: group ids outside [0, K) (GROUP_RANGE), N_g < 1 where N_g is used (GROUP_SIZE),
// non-finite ref_logps or log_alpha (NON_FINITE). With any flag set, log_alpha stays untouched and every
// coef is 0, so pass 3 writes a zero gradient. A coefficient that f16 logits' gradient cannot hold sets GRAD_RANGE
// after the fact (the weights have moved by then): the caller treats the whole call as failed.
#include <math.h>

#include "../group_step.h"
#include "cuda_kernels.cuh"

namespace grpo4j {
namespace cuda {
namespace {

constexpr int kStepThreads = 512;
constexpr int kSumThreads = 256;

// Row r's labelled log-prob sum and count; every lane of the calling warp gets the same values. Lane l adds
// positions l, l + 32, l + 64, ... in that order; the loads of kAhead positions are issued before the
// first is added, since this loop is latency-bound (pass 1 wrote logp for every position, masked ones too).
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

// The step's per-pair and per-group arrays. They live in shared memory when they fit (B and K are small in
// practice), else in the global workspace: most stages are short dependent chains, run partly by one thread,
// and shared memory cuts each link from an L2 round trip to a few dozen cycles.
struct Scratch {
  double *row_sum, *pair_loss, *pair_dchosen, *pair_drejected;
  double *group_norm, *group_adjusted, *group_alpha, *group_w;
  int32_t *row_count, *group_n;
  const int32_t* group_ids;  // a shared copy, or the input itself
  const float* ref_logps;
};

__global__ void __launch_bounds__(kStepThreads) group_step_kernel(const StepArgs a) {
  extern __shared__ double dynamic_shared[];
  const grpo4j_options& o = a.options;
  const grpo4j_outputs& out = a.out;
  const int64_t B = a.num_pairs, rows = a.rows;
  const int K = a.num_groups;
  const int tid = threadIdx.x, threads = blockDim.x;
  const int warp = tid / 32, lane = tid % 32, warps = threads / 32;
  const bool robust = o.weighting == GRPO4J_WEIGHTING_ROBUST;
  const bool average = o.weighting == GRPO4J_WEIGHTING_AVERAGE;
  const bool sizes_needed = needs_group_sizes(o);
  __shared__ int32_t shared_flags;
  __shared__ long long shared_dataset_size;
  __shared__ double shared_inverse_size_sum;

  Scratch w;
  int32_t* shared_ids = nullptr;
  float* shared_ref = nullptr;
  if (a.use_shared) {
    double* d = dynamic_shared;
    w.row_sum = d, d += rows;
    w.pair_loss = d, d += B;
    w.pair_dchosen = d, d += B;
    w.pair_drejected = d, d += B;
    w.group_norm = d, d += K;
    w.group_adjusted = d, d += K;
    w.group_alpha = d, d += K;
    w.group_w = d, d += K;
    int32_t* n = reinterpret_cast<int32_t*>(d);
    w.row_count = n, n += rows;
    w.group_n = n, n += K;
    shared_ids = n, n += B;
    shared_ref = reinterpret_cast<float*>(n);
    w.group_ids = shared_ids;
    w.ref_logps = shared_ref;
  } else {
    w.row_sum = a.row_sum;
    w.pair_loss = a.pair_loss;
    w.pair_dchosen = a.pair_dchosen;
    w.pair_drejected = a.pair_drejected;
    w.group_norm = a.group_norm;
    w.group_adjusted = a.group_adjusted;
    w.group_alpha = a.group_alpha;
    w.group_w = a.group_w;
    w.row_count = a.row_count;
    w.group_n = a.group_n;
    w.group_ids = a.group_ids;
    w.ref_logps = a.ref_logps;
  }

  // Row sums, and the checks of the device-side inputs (copied to shared memory on the way).
  for (int64_t r = warp; r < rows; r += warps) {
    double sum;
    int32_t count;
    warp_row_sum(a.labels, a.label_type, a.logp, a.seq_len, a.vocab, r, sum, count);
    if (lane == 0) {
      w.row_sum[r] = sum;
      w.row_count[r] = count;
    }
  }
  int32_t local_flags = 0;
  for (int64_t i = tid; i < B; i += threads) {
    const int32_t g = a.group_ids[i];
    if (g < 0 || g >= K) local_flags |= GRPO4J_FLAG_GROUP_RANGE;
    if (shared_ids) shared_ids[i] = g;
  }
  for (int64_t r = tid; r < rows; r += threads) {
    const float ref = a.ref_logps[r];
    if (!isfinite((double)ref)) local_flags |= GRPO4J_FLAG_NON_FINITE;
    if (shared_ref) shared_ref[r] = ref;
  }
  for (int g = tid; g < K; g += threads) {
    if (sizes_needed && a.group_sizes[g] < 1) local_flags |= GRPO4J_FLAG_GROUP_SIZE;
    if (robust) {
      w.group_alpha[g] = a.log_alpha[g];
      if (!isfinite(a.log_alpha[g])) local_flags |= GRPO4J_FLAG_NON_FINITE;
    }
  }
  if (local_flags) atomicOr(&a.flags->flags, local_flags);
  if (tid == 0) {
    long long dataset_size = 0;
    double inverse_size_sum = 0.0;
    if (a.group_sizes) {
      for (int g = 0; g < K; ++g) {
        dataset_size += a.group_sizes[g];
        inverse_size_sum += 1.0 / (double)a.group_sizes[g];
      }
    }
    shared_dataset_size = dataset_size;
    shared_inverse_size_sum = inverse_size_sum;
  }
  __syncthreads();
  if (tid == 0) shared_flags = atomicOr(&a.flags->flags, 0);  // an atomic read: sees pass 1's bits too

  // Pairs.
  for (int64_t i = tid; i < B; i += threads) {
    const double chosen_ratio = w.row_sum[i] - (double)w.ref_logps[i];
    const double rejected_ratio = w.row_sum[B + i] - (double)w.ref_logps[B + i];
    const PairTerms t = pair_terms(o, chosen_ratio, rejected_ratio, w.row_count[i], w.row_count[B + i]);
    w.pair_loss[i] = t.loss;
    w.pair_dchosen[i] = t.dloss_dchosen;
    w.pair_drejected[i] = t.dloss_drejected;
    if (out.pair_loss) out.pair_loss[i] = (float)t.loss;
    if (out.pair_margin) out.pair_margin[i] = (float)(chosen_ratio - rejected_ratio);
    if (out.pair_chosen_reward) out.pair_chosen_reward[i] = (float)(o.beta * chosen_ratio);
    if (out.pair_rejected_reward) out.pair_rejected_reward[i] = (float)(o.beta * rejected_ratio);
    if (out.pair_chosen_logp) out.pair_chosen_logp[i] = (float)w.row_sum[i];
    if (out.pair_rejected_logp) out.pair_rejected_logp[i] = (float)w.row_sum[B + i];
  }
  __syncthreads();
  const int32_t flags = shared_flags;

  // Groups: each reduced over its pairs in index order, like the reference.
  for (int g = tid; g < K; g += threads) {
    double loss_sum = 0.0, reward_hits = 0.0, logp_hits = 0.0, chosen = 0.0, rejected = 0.0, margins = 0.0;
    int32_t count = 0;
    for (int64_t i = 0; i < B; ++i) {
      if (w.group_ids[i] != g) continue;
      const double chosen_logp = w.row_sum[i], rejected_logp = w.row_sum[B + i];
      const double chosen_ratio = chosen_logp - (double)w.ref_logps[i];
      const double rejected_ratio = rejected_logp - (double)w.ref_logps[B + i];
      const double margin = chosen_ratio - rejected_ratio;
      loss_sum += w.pair_loss[i];
      ++count;
      reward_hits += margin > 0 ? 1.0 : 0.0;
      logp_hits += chosen_logp > rejected_logp ? 1.0 : 0.0;
      chosen += o.beta * chosen_ratio;
      rejected += o.beta * rejected_ratio;
      margins += margin;
    }
    const double norm =
        group_normaliser(o, count, a.group_sizes ? a.group_sizes[g] : 1, shared_dataset_size, B);
    const double group_loss = norm * loss_sum;
    w.group_n[g] = count;
    w.group_norm[g] = norm;
    w.group_adjusted[g] = group_loss + group_adjustment(o, a.group_sizes, g);
    const double n = count > 0 ? (double)count : 1.0;
    if (out.group_loss) out.group_loss[g] = (float)group_loss;
    if (out.group_count) out.group_count[g] = count;
    if (out.group_reward_accuracy) out.group_reward_accuracy[g] = (float)(reward_hits / n);
    if (out.group_logp_accuracy) out.group_logp_accuracy[g] = (float)(logp_hits / n);
    if (out.group_chosen_reward) out.group_chosen_reward[g] = (float)(chosen / n);
    if (out.group_rejected_reward) out.group_rejected_reward[g] = (float)(rejected / n);
    if (out.group_margin) out.group_margin[g] = (float)(margins / n);
  }
  __syncthreads();

  // Exponentiated-gradient step: serial over K in group_step.h's fixed order.
  const bool update = robust && a.train && flags == 0;
  if (tid == 0 && update) robust_weight_update(w.group_alpha, w.group_adjusted, K, o.eta);
  __syncthreads();

  for (int g = tid; g < K; g += threads) {
    if (update) a.log_alpha[g] = w.group_alpha[g];
    const double weight =
        group_weight(o, w.group_alpha, a.group_sizes, shared_inverse_size_sum, w.group_n[g], B, g, K);
    w.group_w[g] = weight;
    if (out.group_weight) out.group_weight[g] = (float)weight;
  }
  __syncthreads();

  if (tid == 0) {
    double objective = 0.0;
    if (average) {
      for (int64_t i = 0; i < B; ++i) objective += w.pair_loss[i] / (double)B;
    } else {
      for (int g = 0; g < K; ++g) objective += w.group_w[g] * w.group_adjusted[g];
    }
    if (out.loss) *out.loss = (float)objective;
    if (out.flags) *out.flags = flags;
  }
  // The range flags below are or-ed into out.flags, after thread 0's store above.
  __syncthreads();
  if (a.train) {
    for (int64_t i = tid; i < B; i += threads) {
      float chosen_coef = 0.f, rejected_coef = 0.f;
      if (flags == 0) {
        const int g = w.group_ids[i];
        const double dJ_dloss = average ? 1.0 / (double)B : w.group_w[g] * w.group_norm[g];
        chosen_coef = (float)(dJ_dloss * w.pair_dchosen[i]);
        rejected_coef = (float)(dJ_dloss * w.pair_drejected[i]);
      }
      a.coef[i] = chosen_coef;
      a.coef[B + i] = rejected_coef;
      if (out.flags && (f16_gradient_out_of_range(a.logits_type, chosen_coef) ||
                        f16_gradient_out_of_range(a.logits_type, rejected_coef)))
        atomicOr(out.flags, GRPO4J_FLAG_GRAD_RANGE);
    }
  }
}

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

// Bytes of Scratch in shared memory: doubles row_sum, pair_*, group_* then int32 row_count, group_n, group
// ids and the float reference log-probs.
size_t step_shared_bytes(int64_t rows, int64_t pairs, int32_t groups) {
  return sizeof(double) * (size_t)(rows + 3 * pairs + 4 * (int64_t)groups) +
         sizeof(int32_t) * (size_t)(rows + groups + pairs + rows);
}

}  // namespace

cudaError_t launch_group_step(const StepArgs& args, cudaStream_t stream) {
  // Within the default 48 KB of shared memory a block may take without opting in (less the static part).
  constexpr size_t kSharedLimit = 48 * 1024 - 256;
  const size_t shared = step_shared_bytes(args.rows, args.num_pairs, args.num_groups);
  StepArgs a = args;
  a.use_shared = shared <= kSharedLimit ? 1 : 0;
  group_step_kernel<<<1, kStepThreads, a.use_shared ? shared : 0, stream>>>(a);
  return cudaGetLastError();
}

cudaError_t launch_sequence_sums(const grpo4j_tokens& tk, const float* logp, const FlagState* flags_in, float* logps,
                                 int32_t* token_counts, int32_t* flags_out, cudaStream_t stream) {
  constexpr int kRowsPerBlock = kSumThreads / 32;
  int64_t blocks = (tk.rows + kRowsPerBlock - 1) / kRowsPerBlock;
  if (blocks > 65535) blocks = 65535;
  sequence_sums_kernel<<<(unsigned int)blocks, kSumThreads, 0, stream>>>(
      tk.labels, tk.label_type, logp, tk.rows, tk.seq_len, tk.vocab, flags_in, logps, token_counts, flags_out);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace grpo4j
