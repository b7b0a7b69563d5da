// CPU backend entry points: the whole GR-DPO / GR-IPO step on host memory in three passes.
//   1. token_logprobs: one read of the logits [2B, T, V] -> s_r [2B] and, per labelled position, the max
//      and log-sum-exp offset that define its softmax.
//   2. here, in double, with the expressions of group_step.h shared with the CUDA backend:
//      h_i = (s_w - ref_w) - (s_l - ref_l), pair loss l_i and dl_i/ds, L_g = norm_g * sum_{i in g} l_i,
//      A_g = L_g + C / sqrt(N_g), the exponentiated-gradient update of log alpha (ROBUST, training only),
//      w_g, J = sum_g w_g A_g (AVERAGE: mean_i l_i), the metrics, and coef_r = dJ/ds_r.
//   3. logits_gradient (training only): grad = coef_r * (onehot - softmax), a second read of the logits
//      and one write, possibly over the logits themselves.
// Fusing forward and backward this way moves the floor of the memory traffic (two reads, one write of
// B*T*V elements) and never materialises log_softmax. Input errors found in pass 1 return before
// log_alpha or the gradient is touched.
#include <math.h>

#include <vector>

#include "../group_step.h"
#include "../internal.h"
#include "cpu_backend.h"

namespace grpo4j {

grpo4j_status cpu_loss(const grpo4j_options& o, const grpo4j_batch& b, bool train, int threads) {
  const grpo4j_outputs& out = b.out;
  cpu::TokenLogprobs rows;
  grpo4j_status status = cpu::token_logprobs(b.tokens, threads, rows, out.flags);
  if (status != GRPO4J_OK) return status;

  const int64_t B = b.num_pairs;
  const int K = b.num_groups;
  std::vector<PairTerms> terms(B);
  std::vector<double> group_sum(K, 0.0);
  std::vector<int32_t> count(K, 0);
  for (int64_t i = 0; i < B; ++i) {
    const double chosen_ratio = rows.row_logp[i] - (double)b.ref_logps[i];
    const double rejected_ratio = rows.row_logp[B + i] - (double)b.ref_logps[B + i];
    terms[i] = pair_terms(o, chosen_ratio, rejected_ratio, rows.row_tokens[i], rows.row_tokens[B + i]);
    group_sum[b.group_ids[i]] += terms[i].loss;
    count[b.group_ids[i]] += 1;
  }

  int64_t dataset_size = 0;
  double inverse_size_sum = 0.0;
  if (b.group_sizes) {
    for (int g = 0; g < K; ++g) dataset_size += b.group_sizes[g];
    for (int g = 0; g < K; ++g) inverse_size_sum += 1.0 / (double)b.group_sizes[g];
  }
  std::vector<double> norm(K), group_loss(K), adjusted(K), weight(K);
  for (int g = 0; g < K; ++g) {
    norm[g] = group_normaliser(o, count[g], b.group_sizes ? b.group_sizes[g] : 0, dataset_size, B);
    group_loss[g] = norm[g] * group_sum[g];
    adjusted[g] = group_loss[g] + group_adjustment(o, b.group_sizes, g);
  }

  std::vector<double> log_alpha;
  if (o.weighting == GRPO4J_WEIGHTING_ROBUST) {
    log_alpha.assign(b.log_alpha, b.log_alpha + K);
    if (train) {
      robust_weight_update(log_alpha.data(), adjusted.data(), K, o.eta);
      for (int g = 0; g < K; ++g) b.log_alpha[g] = log_alpha[g];
    }
  }
  for (int g = 0; g < K; ++g)
    weight[g] = group_weight(o, log_alpha.data(), b.group_sizes, inverse_size_sum, count[g], B, g, K);

  double objective = 0.0;
  if (o.weighting == GRPO4J_WEIGHTING_AVERAGE) {
    for (int64_t i = 0; i < B; ++i) objective += terms[i].loss / (double)B;
  } else {
    for (int g = 0; g < K; ++g) objective += weight[g] * adjusted[g];
  }
  if (out.loss) *out.loss = (float)objective;

  std::vector<double> reward_hits(K, 0.0), logp_hits(K, 0.0), chosen(K, 0.0), rejected(K, 0.0), margins(K, 0.0);
  for (int64_t i = 0; i < B; ++i) {
    const double sw = rows.row_logp[i], sl = rows.row_logp[B + i];
    const double chosen_ratio = sw - (double)b.ref_logps[i];
    const double rejected_ratio = sl - (double)b.ref_logps[B + i];
    const double margin = chosen_ratio - rejected_ratio;
    const double chosen_reward = o.beta * chosen_ratio, rejected_reward = o.beta * rejected_ratio;
    if (out.pair_loss) out.pair_loss[i] = (float)terms[i].loss;
    if (out.pair_margin) out.pair_margin[i] = (float)margin;
    if (out.pair_chosen_reward) out.pair_chosen_reward[i] = (float)chosen_reward;
    if (out.pair_rejected_reward) out.pair_rejected_reward[i] = (float)rejected_reward;
    if (out.pair_chosen_logp) out.pair_chosen_logp[i] = (float)sw;
    if (out.pair_rejected_logp) out.pair_rejected_logp[i] = (float)sl;
    const int g = b.group_ids[i];
    reward_hits[g] += margin > 0 ? 1.0 : 0.0;
    logp_hits[g] += sw > sl ? 1.0 : 0.0;
    chosen[g] += chosen_reward;
    rejected[g] += rejected_reward;
    margins[g] += margin;
  }
  for (int g = 0; g < K; ++g) {
    const double n = count[g] > 0 ? (double)count[g] : 1.0;
    if (out.group_loss) out.group_loss[g] = (float)group_loss[g];
    if (out.group_weight) out.group_weight[g] = (float)weight[g];
    if (out.group_count) out.group_count[g] = count[g];
    if (out.group_reward_accuracy) out.group_reward_accuracy[g] = (float)(reward_hits[g] / n);
    if (out.group_logp_accuracy) out.group_logp_accuracy[g] = (float)(logp_hits[g] / n);
    if (out.group_chosen_reward) out.group_chosen_reward[g] = (float)(chosen[g] / n);
    if (out.group_rejected_reward) out.group_rejected_reward[g] = (float)(rejected[g] / n);
    if (out.group_margin) out.group_margin[g] = (float)(margins[g] / n);
  }
  if (!train) return GRPO4J_OK;

  // coef_r = dJ/ds_r = dJ/dl_i * dl_i/ds_r; dJ/dl_i = 1/B (AVERAGE) or w_g * norm_g.
  std::vector<float> row_coef(2 * B);
  for (int64_t i = 0; i < B; ++i) {
    const int g = b.group_ids[i];
    const double dJ_dloss = o.weighting == GRPO4J_WEIGHTING_AVERAGE ? 1.0 / (double)B : weight[g] * norm[g];
    row_coef[i] = (float)(dJ_dloss * terms[i].dloss_dchosen);
    row_coef[B + i] = (float)(dJ_dloss * terms[i].dloss_drejected);
  }
  for (int64_t r = 0; r < 2 * B; ++r) {
    if (f16_gradient_out_of_range(b.tokens.logits_type, row_coef[r]))
      return fail(GRPO4J_INVALID_ARGUMENT,
                  "the gradient of row %lld does not fit f16: its coefficient dJ/ds = %g reaches f16's largest "
                  "value 65504, so dJ/dlogits would be written as infinity; use bf16 or f32 logits, or scale the "
                  "loss down (beta, eta, the group sizes' normalisation)",
                  (long long)r, (double)row_coef[r]);
  }
  cpu::logits_gradient(b.tokens, rows, row_coef.data(), b.grad, threads);
  return GRPO4J_OK;
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
