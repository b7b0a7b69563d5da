// Pass 1 of the CPU backend: per labelled position p of logits [rows, T, V],
//   m = max_v z[p][v],  S = sum_v exp(z[p][v] - m),  logp[p] = (z[p][label] - m) - log S,
// then s_r = sum_t logp[r][t] in double, in t order, and the row's count of labelled positions.
// Each row of V is read from memory once, in one sweep: it is cut into L1-sized blocks, each block's max
// and its sum of exp(z - shift) are taken together with shift = the max of the blocks before it, and the
// running sum is rescaled when a block raises the max (an online softmax at block granularity, with no
// extra exp per element). m and log S are kept per position (fp32) so that pass 3 can rebuild the softmax
// without another reduction; keeping them apart, rather than one rounded m + log S, keeps the exponent
// z - m - log S accurate when the logits are large.
// Masked positions (label -100) are never read. Positions are split across threads in contiguous slices;
// every per-position value is computed the same way whatever the split, and the row sums run after the
// parallel part in a fixed order, so results are bit-identical for every thread count.
#include <math.h>

#include <limits>
#include <vector>

#include "cpu_backend.h"
#include "intrinsics.h"
#include "thread_pool.h"
#include "vector_math.h"

namespace grpo4j {
namespace cpu {
namespace {

struct SoftmaxStats {
  float max;
  double log_sum;
};

// Short rows (the synthetic bandit problem has V = 8) skip the lane set-up and reductions, which would
// cost more than the row itself.
template <int32_t Type>
GRPO4J_CPU_INLINE SoftmaxStats short_softmax_stats(const void* row, int64_t vocab) {
  float max = -INFINITY;
  for (int64_t v = 0; v < vocab; ++v) {
    const float z = load_element<Type>(row, v);
    max = z > max ? z : max;
  }
  const float shift = max == -INFINITY ? 0.0f : max;
  float sum = 0.0f;
  for (int64_t v = 0; v < vocab; ++v) sum += exp_approx(load_element<Type>(row, v) - shift);
  return {max, log((double)sum)};
}

template <int32_t Type>
GRPO4J_CPU_INLINE SoftmaxStats softmax_stats(const void* row, int64_t vocab) {
  if (vocab < kLanes) return short_softmax_stats<Type>(row, vocab);
  // Invariant: sum = sum over the elements seen so far of exp(z - max). Each block is summed relative to
  // `shift`, the running max before it (the first element for the first block), and then rescaled.
  const float first = load_element<Type>(row, 0);
  float shift = first - first == 0.0f ? first : 0.0f;
  float max = -INFINITY;
  double sum = 0.0;
  // Halves are widened a block at a time with F16C (where the CPU has it) and then swept as floats.
  constexpr int32_t kSweep = Type == GRPO4J_F16 ? GRPO4J_F32 : Type;
  float widened[Type == GRPO4J_F16 ? kBlock : 1];
  for (int64_t begin = 0; begin < vocab; begin += kBlock) {
    const int64_t n = vocab - begin < kBlock ? vocab - begin : kBlock;
    const void* block = (const char*)row + begin * element_size(Type);
    if (Type == GRPO4J_F16) {
      f16_widen((const uint16_t*)block, widened, n);
      block = widened;
    }
    float block_max;
    float block_sum = block_max_sum_exp<kSweep>(block, n, shift, &block_max);
    // Terms up to exp(kMaxShiftGap) cannot overflow a float sum of kBlock of them; beyond that (or for
    // +inf) sum again relative to the block's own max.
    if (!(block_max - shift <= kMaxShiftGap)) {
      shift = block_max;
      block_sum = block_sum_exp<kSweep>(block, n, shift);
    }
    const float new_max = block_max > max ? block_max : max;
    // sum > 0 and block_sum != 0 each imply a finite element, so both factors are finite; a NaN stays NaN.
    if (sum > 0.0 && new_max > max) sum *= exp((double)max - (double)new_max);
    if (block_sum != 0.0f) sum += (double)block_sum * exp((double)shift - (double)new_max);
    max = new_max;
    if (max > -INFINITY) shift = max;
  }
  return {max, log(sum)};
}

GRPO4J_CPU_CLONES SoftmaxStats softmax_stats_f32(const void* row, int64_t vocab) {
  return softmax_stats<GRPO4J_F32>(row, vocab);
}

GRPO4J_CPU_CLONES SoftmaxStats softmax_stats_bf16(const void* row, int64_t vocab) {
  return softmax_stats<GRPO4J_BF16>(row, vocab);
}

GRPO4J_CPU_CLONES SoftmaxStats softmax_stats_f16(const void* row, int64_t vocab) {
  return softmax_stats<GRPO4J_F16>(row, vocab);
}

struct Problem {
  int64_t position = std::numeric_limits<int64_t>::max();
  int32_t flag = 0;
};

}  // namespace

grpo4j_status token_logprobs(const grpo4j_tokens& tk, int threads, TokenLogprobs& out, int32_t* flags) {
  const int64_t positions = tk.rows * tk.seq_len;
  const int64_t vocab = tk.vocab;
  const int64_t row_bytes = vocab * element_size(tk.logits_type);
  SoftmaxStats (*const stats_of)(const void*, int64_t) = tk.logits_type == GRPO4J_F32    ? softmax_stats_f32
                                                         : tk.logits_type == GRPO4J_BF16 ? softmax_stats_bf16
                                                                                         : softmax_stats_f16;
  if (!out.max) {
    out.storage.resize(2 * positions);
    out.max = out.storage.data();
    out.log_sum = out.storage.data() + positions;
  }
  std::vector<double> logp(positions);

  const int parts = pass_threads(threads, positions * vocab, positions);
  std::vector<Problem> problems(parts);
  parallel_for(positions, parts, [&](int part, int64_t begin, int64_t end) {
    // A slice stops at its first problem; the lowest position over all slices is the one reported.
    for (int64_t p = begin; p < end; ++p) {
      const int64_t label = load_label(tk.labels, tk.label_type, p);
      if (label == GRPO4J_IGNORE_INDEX) continue;
      if (label < 0 || label >= vocab) {
        problems[part] = {p, GRPO4J_FLAG_LABEL_RANGE};
        return;
      }
      const SoftmaxStats s = stats_of((const char*)tk.logits + p * row_bytes, vocab);
      const double picked = load_logit(tk.logits, tk.logits_type, p * vocab + label);
      if (!isfinite((double)s.max + s.log_sum) || !isfinite(picked)) {
        problems[part] = {p, GRPO4J_FLAG_NON_FINITE};
        return;
      }
      out.max[p] = s.max;
      out.log_sum[p] = (float)s.log_sum;
      logp[p] = (picked - (double)s.max) - s.log_sum;
    }
  });
  Problem first;
  for (const Problem& problem : problems)
    if (problem.position < first.position) first = problem;
  if (first.flag != 0) {
    if (flags) *flags |= first.flag;
    return token_flag_error(first.flag, tk, first.position);
  }

  out.row_logp.assign(tk.rows, 0.0);
  out.row_tokens.assign(tk.rows, 0);
  for (int64_t r = 0; r < tk.rows; ++r) {
    double sum = 0.0;
    int32_t count = 0;
    for (int64_t p = r * tk.seq_len; p < (r + 1) * tk.seq_len; ++p) {
      if (load_label(tk.labels, tk.label_type, p) == GRPO4J_IGNORE_INDEX) continue;
      sum += logp[p];
      ++count;
    }
    out.row_logp[r] = sum;
    out.row_tokens[r] = count;
  }
  return GRPO4J_OK;
}

}  // namespace cpu
}  // namespace grpo4j
