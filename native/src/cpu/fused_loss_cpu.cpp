// CPU backend: the GR-DPO / GR-IPO step on host memory in three phases, which the one-shot calls compose.
//   1. statistics: token_logprobs reads the logits [2B, T, V] once -> s_r [2B] and, per labelled position, the
//      max and log-sum-exp offset that define its softmax (kept in the workspace for phase 3); then per pair
//      h_i = (s_w - ref_w) - (s_l - ref_l), the pair loss l_i and dl_i/ds (pair_loss.h; workspace), and per group
//      the sums of GRPO4J_GROUP_STATS (loss, pairs, hits, rewards, margin), in pair order.
//   2. group step, in double with the expressions of group_step.h shared with the CUDA backend, from group sums
//      that may cover several batches or ranks: L_g = norm_g * sum_g l, A_g = L_g + C / sqrt(N_g), the
//      exponentiated-gradient update of log alpha (ROBUST, when asked), w_g, J = sum_g w_g A_g (AVERAGE:
//      sum_i l_i / B), the group metrics, and dJ/dl_i per group.
//   3. logits gradient: coef_r = dJ/dl_i * dl_i/ds_r; grad = coef_r * (onehot - softmax), a second read of the
//      logits and one write, possibly over the logits themselves.
// Fusing forward and backward this way moves the floor of the memory traffic (two reads, one write of
// B*T*V elements) and never materialises log_softmax. Input errors found in phase 1 return before log_alpha or
// the gradient is touched.
#include <math.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "../group_step.h"
#include "../internal.h"
#include "cpu_backend.h"

namespace grpo4j {

namespace {

// The orders the sorting losses read (pair_loss.h's SortedPairs), by one sort per key: O(B log B).
struct SortingScratch {
  std::vector<int64_t> place[4];  // per PairKey: pair i's place in the order by group, key, index
  std::vector<double> sorted[3];  // x_w, x_l, ref margin in their orders

  void fill(const PairRows& rows) {
    const int64_t B = rows.num_pairs;
    std::vector<int64_t> order(B);
    for (int key = 0; key < 4; ++key) {
      std::iota(order.begin(), order.end(), (int64_t)0);
      std::sort(order.begin(), order.end(),
                [&](int64_t a, int64_t b) { return sorts_before(rows, key, a, b); });
      place[key].assign(B, 0);
      for (int64_t p = 0; p < B; ++p) place[key][order[p]] = p;
      if (key < 3) {
        sorted[key].assign(B, 0.0);
        for (int64_t p = 0; p < B; ++p) sorted[key][p] = pair_key(rows, key, order[p]);
      }
    }
  }

  SortedPairs of(int64_t i) const {
    SortedPairs s;
    s.chosen_ratio = sorted[kChosenRatio].data();
    s.rejected_ratio = sorted[kRejectedRatio].data();
    s.ref_margin = sorted[kRefMargin].data();
    s.chosen_place = place[kChosenRatio][i];
    s.rejected_place = place[kRejectedRatio][i];
    s.margin_place = place[kMargin][i];
    return s;
  }
};

// Phase 1 after the row sums: per pair h, l_i, dl_i/ds (into dloss) and the pair outputs; per group the sums of
// GRPO4J_GROUP_STATS in pair order.
void pair_statistics(const grpo4j_options& o, const grpo4j_batch& b, const double* row_logp,
                     const int32_t* row_tokens, double* group_stats, double* dloss) {
  const grpo4j_outputs& out = b.out;
  const int64_t B = b.num_pairs;
  for (int64_t e = 0; e < (int64_t)b.num_groups * GRPO4J_GROUP_STATS; ++e) group_stats[e] = 0.0;
  const PairRows rows = {row_logp, b.ref_logps, b.group_ids, B};
  const bool sorts = (options_loss_flags(o) & GRPO4J_LOSS_SORTS) != 0;
  SortingScratch sorting;
  if (sorts) sorting.fill(rows);
  for (int64_t i = 0; i < B; ++i) {
    const double sw = row_logp[i], sl = row_logp[B + i];
    const double chosen_ratio = sw - (double)b.ref_logps[i];
    const double rejected_ratio = sl - (double)b.ref_logps[B + i];
    const SortedPairs sorted = sorts ? sorting.of(i) : SortedPairs{};
    const PairTerms terms = pair_terms(o, rows, row_tokens, i, sorts ? &sorted : nullptr);
    const double margin = chosen_ratio - rejected_ratio;
    const double chosen_reward = o.beta * chosen_ratio, rejected_reward = o.beta * rejected_ratio;
    dloss[i] = terms.dloss_dchosen;
    dloss[B + i] = terms.dloss_drejected;
    if (out.pair_loss) out.pair_loss[i] = (float)terms.loss;
    if (out.pair_margin) out.pair_margin[i] = (float)margin;
    if (out.pair_chosen_reward) out.pair_chosen_reward[i] = (float)chosen_reward;
    if (out.pair_rejected_reward) out.pair_rejected_reward[i] = (float)rejected_reward;
    if (out.pair_chosen_logp) out.pair_chosen_logp[i] = (float)sw;
    if (out.pair_rejected_logp) out.pair_rejected_logp[i] = (float)sl;
    double* g = group_stats + (int64_t)b.group_ids[i] * GRPO4J_GROUP_STATS;
    g[GRPO4J_STAT_LOSS_SUM] += terms.loss;
    g[GRPO4J_STAT_PAIRS] += 1.0;
    g[GRPO4J_STAT_REWARD_HITS] += margin > 0 ? 1.0 : 0.0;
    g[GRPO4J_STAT_LOGP_HITS] += sw > sl ? 1.0 : 0.0;
    g[GRPO4J_STAT_CHOSEN_REWARD] += chosen_reward;
    g[GRPO4J_STAT_REJECTED_REWARD] += rejected_reward;
    g[GRPO4J_STAT_MARGIN] += margin;
  }
}

}  // namespace

grpo4j_status cpu_loss_statistics(const grpo4j_options& o, const grpo4j_batch& b, double* group_stats,
                                  void* workspace, int threads) {
  const HostWorkspace w = host_workspace(workspace, b.tokens.rows, b.tokens.seq_len);
  cpu::TokenLogprobs rows;
  rows.max = w.max;
  rows.log_sum = w.log_sum;
  grpo4j_status status = cpu::token_logprobs(b.tokens, threads, rows, b.out.flags);
  if (status != GRPO4J_OK) return status;
  pair_statistics(o, b, rows.row_logp.data(), rows.row_tokens.data(), group_stats, w.dloss);
  return GRPO4J_OK;
}

grpo4j_status cpu_sequence_statistics(const grpo4j_options& o, const grpo4j_batch& b, const float* logps,
                                      const int32_t* token_counts, double* group_stats, double* dloss) {
  const int64_t rows = 2 * b.num_pairs;
  std::vector<double> row_logp(rows);
  std::vector<int32_t> row_tokens(rows, 1);
  for (int64_t r = 0; r < rows; ++r) {
    row_logp[r] = logps[r];
    if (token_counts) row_tokens[r] = token_counts[r];
  }
  pair_statistics(o, b, row_logp.data(), row_tokens.data(), group_stats, dloss);
  return GRPO4J_OK;
}

// Shared by the CPU and REFERENCE backends: one product per row, rounded once, as the logits gradient's coefficients.
grpo4j_status host_sequence_gradient(const grpo4j_batch& b, const double* dloss, const double* group_coef,
                                     float* row_coef) {
  const int64_t B = b.num_pairs;
  for (int64_t i = 0; i < B; ++i) {
    const double dJ_dloss = group_coef[b.group_ids[i]];
    row_coef[i] = (float)(dJ_dloss * dloss[i]);
    row_coef[B + i] = (float)(dJ_dloss * dloss[B + i]);
  }
  return GRPO4J_OK;
}

grpo4j_status cpu_group_step(const grpo4j_options& o, const grpo4j_batch& b, const double* group_stats,
                             bool update_weights, double* group_coef) {
  const grpo4j_outputs& out = b.out;
  const int K = b.num_groups;
  int64_t B = 0;
  for (int g = 0; g < K; ++g) B += (int64_t)group_row(group_stats, g)[GRPO4J_STAT_PAIRS];
  int64_t dataset_size = 0;
  double inverse_size_sum = 0.0;
  if (b.group_sizes) {
    for (int g = 0; g < K; ++g) dataset_size += b.group_sizes[g];
    for (int g = 0; g < K; ++g) inverse_size_sum += 1.0 / (double)b.group_sizes[g];
  }
  std::vector<double> norm(K), group_loss(K), adjusted(K), weight(K);
  std::vector<int32_t> count(K);
  for (int g = 0; g < K; ++g) {
    count[g] = (int32_t)group_row(group_stats, g)[GRPO4J_STAT_PAIRS];
    norm[g] = group_normaliser(o, count[g], b.group_sizes ? b.group_sizes[g] : 0, dataset_size, B);
    group_loss[g] = norm[g] * group_row(group_stats, g)[GRPO4J_STAT_LOSS_SUM];
    adjusted[g] = group_loss[g] + group_adjustment(o, b.group_sizes, g);
  }

  std::vector<double> log_alpha;
  if (o.weighting == GRPO4J_WEIGHTING_ROBUST) {
    log_alpha.assign(b.log_alpha, b.log_alpha + K);
    if (update_weights) {
      robust_weight_update(log_alpha.data(), adjusted.data(), K, o.eta);
      for (int g = 0; g < K; ++g) b.log_alpha[g] = log_alpha[g];
    }
  }
  for (int g = 0; g < K; ++g)
    weight[g] = group_weight(o, log_alpha.data(), b.group_sizes, inverse_size_sum, count[g], B, g, K);

  double objective = 0.0;
  if (o.weighting == GRPO4J_WEIGHTING_AVERAGE) {
    for (int g = 0; g < K; ++g) objective += group_row(group_stats, g)[GRPO4J_STAT_LOSS_SUM];
    objective /= (double)B;
  } else {
    for (int g = 0; g < K; ++g) objective += weight[g] * adjusted[g];
  }
  if (out.loss) *out.loss = (float)objective;

  for (int g = 0; g < K; ++g) {
    const double* s = group_row(group_stats, g);
    const double n = count[g] > 0 ? (double)count[g] : 1.0;
    if (out.group_loss) out.group_loss[g] = (float)group_loss[g];
    if (out.group_weight) out.group_weight[g] = (float)weight[g];
    if (out.group_count) out.group_count[g] = count[g];
    if (out.group_reward_accuracy) out.group_reward_accuracy[g] = (float)(s[GRPO4J_STAT_REWARD_HITS] / n);
    if (out.group_logp_accuracy) out.group_logp_accuracy[g] = (float)(s[GRPO4J_STAT_LOGP_HITS] / n);
    if (out.group_chosen_reward) out.group_chosen_reward[g] = (float)(s[GRPO4J_STAT_CHOSEN_REWARD] / n);
    if (out.group_rejected_reward) out.group_rejected_reward[g] = (float)(s[GRPO4J_STAT_REJECTED_REWARD] / n);
    if (out.group_margin) out.group_margin[g] = (float)(s[GRPO4J_STAT_MARGIN] / n);
    // dJ/dl_i for a pair of group g: 1/B (AVERAGE) or w_g * norm_g.
    if (group_coef) group_coef[g] = o.weighting == GRPO4J_WEIGHTING_AVERAGE ? 1.0 / (double)B : weight[g] * norm[g];
  }
  return GRPO4J_OK;
}

grpo4j_status cpu_logits_gradient(const grpo4j_batch& b, const void* workspace, const double* group_coef,
                                  int threads) {
  const int64_t B = b.num_pairs;
  const HostWorkspace w = host_workspace(const_cast<void*>(workspace), b.tokens.rows, b.tokens.seq_len);
  std::vector<float> row_coef(2 * B);
  for (int64_t i = 0; i < B; ++i) {
    const double dJ_dloss = group_coef[b.group_ids[i]];
    row_coef[i] = (float)(dJ_dloss * w.dloss[i]);
    row_coef[B + i] = (float)(dJ_dloss * w.dloss[B + i]);
  }
  for (int64_t r = 0; r < 2 * B; ++r) {
    if (f16_gradient_out_of_range(b.tokens.logits_type, row_coef[r]))
      return fail(GRPO4J_INVALID_ARGUMENT,
                  "the gradient of row %lld does not fit f16: its coefficient dJ/ds = %g reaches f16's largest "
                  "value 65504, so dJ/dlogits would be written as infinity; use bf16 or f32 logits, or scale the "
                  "loss down (beta, eta, the group sizes' normalisation)",
                  (long long)r, (double)row_coef[r]);
  }
  cpu::TokenLogprobs stats;
  stats.max = w.max;
  stats.log_sum = w.log_sum;
  cpu::logits_gradient(b.tokens, stats, row_coef.data(), b.grad, threads);
  return GRPO4J_OK;
}

grpo4j_status cpu_loss(const grpo4j_options& o, const grpo4j_batch& b, bool train, int threads) {
  std::vector<unsigned char> workspace((size_t)workspace_bytes(b.tokens.rows, b.tokens.seq_len));
  std::vector<double> group_stats((size_t)b.num_groups * GRPO4J_GROUP_STATS);
  std::vector<double> group_coef(b.num_groups);
  grpo4j_status status = cpu_loss_statistics(o, b, group_stats.data(), workspace.data(), threads);
  if (status != GRPO4J_OK) return status;
  status = cpu_group_step(o, b, group_stats.data(), train, group_coef.data());
  if (status != GRPO4J_OK || !train) return status;
  return cpu_logits_gradient(b, workspace.data(), group_coef.data(), threads);
}

grpo4j_status cpu_sequence_logprobs(const grpo4j_tokens& tokens, float* logps, int32_t* token_counts,
                                    int32_t* flags, int threads) {
  if (flags) *flags = 0;
  cpu::TokenLogprobs rows;
  grpo4j_status status = cpu::token_logprobs(tokens, threads, rows, flags);
  if (status != GRPO4J_OK) return status;
  for (int64_t r = 0; r < tokens.rows; ++r) {
    logps[r] = (float)rows.row_logp[r];
    if (token_counts) token_counts[r] = rows.row_tokens[r];
  }
  return GRPO4J_OK;
}

}  // namespace grpo4j
