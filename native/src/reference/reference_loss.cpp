// Reference backend: the whole loss in double precision with plain loops, one thread, no shared helpers
// beyond element loads and stores. It is the oracle the CPU and CUDA backends are tested against, so it
// follows the formulas in README.md literally and favours obviousness over speed.
#include <math.h>
#include <stdlib.h>

#include <vector>

#include "../internal.h"

namespace grpo4j {

// reference_pair_losses.cpp: l_i into pair_loss [B] and dl_i/ds into dloss [2B].
void reference_pair_losses(const grpo4j_options& o, const grpo4j_batch& b, const std::vector<double>& logp,
                           const std::vector<int32_t>& tokens, std::vector<double>& pair_loss, double* dloss);

namespace {

struct RowLogprobs {
  std::vector<double> logp;        // [rows]
  std::vector<int32_t> tokens;     // [rows]
  std::vector<double> lse;         // [rows * seq_len]
};

// Returns GRPO4J_OK or a flag error naming the first bad position.
grpo4j_status row_logprobs(const grpo4j_tokens& tk, RowLogprobs& out, int32_t* flags) {
  const int64_t positions = tk.rows * tk.seq_len;
  out.logp.assign(tk.rows, 0.0);
  out.tokens.assign(tk.rows, 0);
  out.lse.assign(positions, 0.0);
  for (int64_t p = 0; p < positions; ++p) {
    int64_t label = load_label(tk.labels, tk.label_type, p);
    if (label == GRPO4J_IGNORE_INDEX) continue;
    if (label < 0 || label >= tk.vocab) {
      if (flags) *flags |= GRPO4J_FLAG_LABEL_RANGE;
      return token_flag_error(GRPO4J_FLAG_LABEL_RANGE, tk, p);
    }
    const int64_t base = p * tk.vocab;
    double max_value = -INFINITY;
    for (int64_t v = 0; v < tk.vocab; ++v) {
      double z = load_logit(tk.logits, tk.logits_type, base + v);
      if (z > max_value || isnan(z)) max_value = z;
    }
    double sum = 0.0;
    for (int64_t v = 0; v < tk.vocab; ++v) sum += exp((double)load_logit(tk.logits, tk.logits_type, base + v) - max_value);
    double lse = max_value + log(sum);
    double picked = load_logit(tk.logits, tk.logits_type, base + label);
    if (!isfinite(lse) || !isfinite(picked)) {
      if (flags) *flags |= GRPO4J_FLAG_NON_FINITE;
      return token_flag_error(GRPO4J_FLAG_NON_FINITE, tk, p);
    }
    out.lse[p] = lse;
    out.logp[p / tk.seq_len] += picked - lse;
    out.tokens[p / tk.seq_len] += 1;
  }
  return GRPO4J_OK;
}

}  // namespace

grpo4j_status reference_sequence_logprobs(const grpo4j_tokens& tokens, float* logps, int32_t* token_counts,
                                          int32_t* flags) {
  if (flags) *flags = 0;
  RowLogprobs rows;
  grpo4j_status status = row_logprobs(tokens, rows, flags);
  if (status != GRPO4J_OK) return status;
  for (int64_t r = 0; r < tokens.rows; ++r) {
    logps[r] = (float)rows.logp[r];
    if (token_counts) token_counts[r] = rows.tokens[r];
  }
  return GRPO4J_OK;
}

// The reference's workspace: the log-sum-exp of each position in double, then dl/ds per row.
struct ReferenceWorkspace {
  double* lse;    // [rows * seq_len]
  double* dloss;  // [rows]
};

ReferenceWorkspace reference_workspace(void* base, const grpo4j_tokens& tk) {
  ReferenceWorkspace w;
  w.lse = static_cast<double*>(base);
  w.dloss = w.lse + tk.rows * tk.seq_len;
  return w;
}

namespace {

// Pairs and groups from the rows' log-probs s_r and response-token counts n_r; dl_i/ds into dloss.
void reference_pair_statistics(const grpo4j_options& o, const grpo4j_batch& b, const std::vector<double>& logp,
                               const std::vector<int32_t>& tokens, double* group_stats, double* dloss) {
  const grpo4j_outputs& out = b.out;
  const int64_t B = b.num_pairs;
  const int K = b.num_groups;
  std::vector<double> pair_loss(B), margin(B), chosen_reward(B), rejected_reward(B);
  reference_pair_losses(o, b, logp, tokens, pair_loss, dloss);
  for (int64_t i = 0; i < B; ++i) {
    double sw = logp[i], sl = logp[B + i];
    double rw = sw - b.ref_logps[i], rl = sl - b.ref_logps[B + i];
    double h = rw - rl;
    margin[i] = h;
    chosen_reward[i] = o.beta * rw;
    rejected_reward[i] = o.beta * rl;
    if (out.pair_loss) out.pair_loss[i] = (float)pair_loss[i];
    if (out.pair_margin) out.pair_margin[i] = (float)margin[i];
    if (out.pair_chosen_reward) out.pair_chosen_reward[i] = (float)chosen_reward[i];
    if (out.pair_rejected_reward) out.pair_rejected_reward[i] = (float)rejected_reward[i];
    if (out.pair_chosen_logp) out.pair_chosen_logp[i] = (float)sw;
    if (out.pair_rejected_logp) out.pair_rejected_logp[i] = (float)sl;
  }
  for (int g = 0; g < K; ++g) {
    double* stats = group_stats + (int64_t)g * GRPO4J_GROUP_STATS;
    for (int c = 0; c < GRPO4J_GROUP_STATS; ++c) stats[c] = 0.0;
    for (int64_t i = 0; i < B; ++i) {
      if (b.group_ids[i] != g) continue;
      stats[GRPO4J_STAT_LOSS_SUM] += pair_loss[i];
      stats[GRPO4J_STAT_PAIRS] += 1;
      stats[GRPO4J_STAT_REWARD_HITS] += margin[i] > 0 ? 1 : 0;
      stats[GRPO4J_STAT_LOGP_HITS] += logp[i] > logp[B + i] ? 1 : 0;
      stats[GRPO4J_STAT_CHOSEN_REWARD] += chosen_reward[i];
      stats[GRPO4J_STAT_REJECTED_REWARD] += rejected_reward[i];
      stats[GRPO4J_STAT_MARGIN] += margin[i];
    }
  }
}

}  // namespace

grpo4j_status reference_loss_statistics(const grpo4j_options& o, const grpo4j_batch& b, double* group_stats,
                                        void* workspace) {
  RowLogprobs rows;
  grpo4j_status status = row_logprobs(b.tokens, rows, b.out.flags);
  if (status != GRPO4J_OK) return status;
  const ReferenceWorkspace w = reference_workspace(workspace, b.tokens);
  for (int64_t p = 0; p < b.tokens.rows * b.tokens.seq_len; ++p) w.lse[p] = rows.lse[p];
  reference_pair_statistics(o, b, rows.logp, rows.tokens, group_stats, w.dloss);
  return GRPO4J_OK;
}

grpo4j_status reference_sequence_statistics(const grpo4j_options& o, const grpo4j_batch& b, const float* logps,
                                            const int32_t* token_counts, double* group_stats, double* dloss) {
  const int64_t rows = 2 * b.num_pairs;
  std::vector<double> logp(rows);
  std::vector<int32_t> tokens(rows, 1);
  for (int64_t r = 0; r < rows; ++r) {
    logp[r] = logps[r];
    if (token_counts) tokens[r] = token_counts[r];
  }
  reference_pair_statistics(o, b, logp, tokens, group_stats, dloss);
  return GRPO4J_OK;
}

// The reference layout of the token statistics: each position's log-sum-exp as one double.
grpo4j_status reference_token_logprobs(const grpo4j_tokens& tokens, void* stats, float* logps, int32_t* flags) {
  const grpo4j_tokens flat = positions_as_rows(tokens);
  if (flags) *flags = 0;
  RowLogprobs rows;
  grpo4j_status status = row_logprobs(flat, rows, flags);
  if (status != GRPO4J_OK) return status;
  double* lse = static_cast<double*>(stats);
  for (int64_t p = 0; p < flat.rows; ++p) {
    lse[p] = rows.lse[p];
    logps[p] = (float)rows.logp[p];
  }
  return GRPO4J_OK;
}

grpo4j_status reference_token_gradient(const grpo4j_tokens& tokens, const void* stats, const float* coef,
                                       void* grad) {
  const grpo4j_tokens flat = positions_as_rows(tokens);
  const double* lse = static_cast<const double*>(stats);
  for (int64_t p = 0; p < flat.rows; ++p) {
    int64_t label = load_label(flat.labels, flat.label_type, p);
    for (int64_t v = 0; v < flat.vocab; ++v) {
      int64_t e = p * flat.vocab + v;
      double g = 0.0;
      if (label != GRPO4J_IGNORE_INDEX) {
        double softmax = exp((double)load_logit(flat.logits, flat.logits_type, e) - lse[p]);
        g = (double)coef[p] * ((v == label ? 1.0 : 0.0) - softmax);
      }
      store_logit(grad, flat.logits_type, e, (float)g);
    }
  }
  return GRPO4J_OK;
}

grpo4j_status reference_group_step(const grpo4j_options& o, const grpo4j_batch& b, const double* group_stats,
                                   bool update_weights, double* group_coef) {
  const grpo4j_outputs& out = b.out;
  const int K = b.num_groups;
  std::vector<double> norm(K, 0.0), group_loss(K, 0.0), adjusted(K, 0.0), weight(K, 0.0);
  std::vector<int32_t> count(K, 0);
  int64_t B = 0, dataset_size = 0;
  for (int g = 0; g < K; ++g) {
    count[g] = (int32_t)group_stats[g * GRPO4J_GROUP_STATS + GRPO4J_STAT_PAIRS];
    B += count[g];
  }
  if (b.group_sizes)
    for (int g = 0; g < K; ++g) dataset_size += b.group_sizes[g];
  for (int g = 0; g < K; ++g) {
    if (count[g] > 0) {
      norm[g] = o.group_norm == GRPO4J_NORM_DATASET_FREQUENCY
                    ? (double)dataset_size / ((double)b.group_sizes[g] * (double)B)
                    : 1.0 / count[g];
    }
    group_loss[g] = norm[g] * group_stats[g * GRPO4J_GROUP_STATS + GRPO4J_STAT_LOSS_SUM];
    adjusted[g] = group_loss[g] + (o.adjustment != 0.0 ? o.adjustment / sqrt((double)b.group_sizes[g]) : 0.0);
  }

  if (o.weighting == GRPO4J_WEIGHTING_ROBUST) {
    std::vector<double> log_alpha(b.log_alpha, b.log_alpha + K);
    if (update_weights) {
      // alpha_g <- alpha_g * exp(eta * A_g), renormalised; in log space.
      for (int g = 0; g < K; ++g) log_alpha[g] += o.eta * adjusted[g];
      double max_value = -INFINITY;
      for (int g = 0; g < K; ++g) max_value = fmax(max_value, log_alpha[g]);
      double sum = 0.0;
      for (int g = 0; g < K; ++g) sum += exp(log_alpha[g] - max_value);
      for (int g = 0; g < K; ++g) log_alpha[g] -= max_value + log(sum);
      for (int g = 0; g < K; ++g) b.log_alpha[g] = log_alpha[g];
    }
    for (int g = 0; g < K; ++g) weight[g] = (1.0 - o.chi) / K + o.chi * exp(log_alpha[g]);
  } else if (o.weighting == GRPO4J_WEIGHTING_IMPORTANCE_SAMPLING) {
    double inverse_sum = 0.0;
    for (int g = 0; g < K; ++g) inverse_sum += 1.0 / (double)b.group_sizes[g];
    for (int g = 0; g < K; ++g) weight[g] = 1.0 / (double)b.group_sizes[g] / inverse_sum;
  } else {
    for (int g = 0; g < K; ++g) weight[g] = (double)count[g] / (double)B;
  }

  double objective = 0.0;
  if (o.weighting == GRPO4J_WEIGHTING_AVERAGE) {
    for (int g = 0; g < K; ++g) objective += group_stats[g * GRPO4J_GROUP_STATS + GRPO4J_STAT_LOSS_SUM];
    objective /= (double)B;
  } else {
    for (int g = 0; g < K; ++g) objective += weight[g] * adjusted[g];
  }
  if (out.loss) *out.loss = (float)objective;
  for (int g = 0; g < K; ++g) {
    const double* s = group_stats + (int64_t)g * GRPO4J_GROUP_STATS;
    double n = count[g] > 0 ? count[g] : 1;
    if (out.group_loss) out.group_loss[g] = (float)group_loss[g];
    if (out.group_weight) out.group_weight[g] = (float)weight[g];
    if (out.group_count) out.group_count[g] = count[g];
    if (out.group_reward_accuracy) out.group_reward_accuracy[g] = (float)(s[GRPO4J_STAT_REWARD_HITS] / n);
    if (out.group_logp_accuracy) out.group_logp_accuracy[g] = (float)(s[GRPO4J_STAT_LOGP_HITS] / n);
    if (out.group_chosen_reward) out.group_chosen_reward[g] = (float)(s[GRPO4J_STAT_CHOSEN_REWARD] / n);
    if (out.group_rejected_reward) out.group_rejected_reward[g] = (float)(s[GRPO4J_STAT_REJECTED_REWARD] / n);
    if (out.group_margin) out.group_margin[g] = (float)(s[GRPO4J_STAT_MARGIN] / n);
    if (group_coef) group_coef[g] = o.weighting == GRPO4J_WEIGHTING_AVERAGE ? 1.0 / (double)B : weight[g] * norm[g];
  }
  return GRPO4J_OK;
}

grpo4j_status reference_logits_gradient(const grpo4j_batch& b, const void* workspace, const double* group_coef) {
  // dJ/dz = coef_r * (onehot(label) - softmax(z)); zero at masked positions.
  const grpo4j_tokens& tk = b.tokens;
  const int64_t B = b.num_pairs;
  const ReferenceWorkspace w = reference_workspace(const_cast<void*>(workspace), tk);
  for (int64_t r = 0; r < 2 * B; ++r) {
    double coef = group_coef[b.group_ids[r % B]] * w.dloss[r];
    if (tk.logits_type == GRPO4J_F16 && !(fabs(coef) < 65504.0))
      return fail(GRPO4J_INVALID_ARGUMENT,
                  "the gradient of row %lld does not fit f16: its coefficient dJ/ds = %g reaches f16's largest "
                  "value 65504; use bf16 or f32 logits, or scale the loss down",
                  (long long)r, coef);
  }
  for (int64_t p = 0; p < tk.rows * tk.seq_len; ++p) {
    int64_t r = p / tk.seq_len;
    int64_t label = load_label(tk.labels, tk.label_type, p);
    double coef = label != GRPO4J_IGNORE_INDEX ? group_coef[b.group_ids[r % B]] * w.dloss[r] : 0.0;
    for (int64_t v = 0; v < tk.vocab; ++v) {
      int64_t e = p * tk.vocab + v;
      double g = 0.0;
      if (label != GRPO4J_IGNORE_INDEX) {
        double softmax = exp((double)load_logit(tk.logits, tk.logits_type, e) - w.lse[p]);
        g = coef * ((v == label ? 1.0 : 0.0) - softmax);
      }
      store_logit(b.grad, tk.logits_type, e, (float)g);
    }
  }
  return GRPO4J_OK;
}

grpo4j_status reference_loss(const grpo4j_options& o, const grpo4j_batch& b, bool train) {
  std::vector<unsigned char> workspace((size_t)workspace_bytes(b.tokens.rows, b.tokens.seq_len));
  std::vector<double> group_stats((size_t)b.num_groups * GRPO4J_GROUP_STATS);
  std::vector<double> group_coef(b.num_groups);
  grpo4j_status status = reference_loss_statistics(o, b, group_stats.data(), workspace.data());
  if (status != GRPO4J_OK) return status;
  status = reference_group_step(o, b, group_stats.data(), train, group_coef.data());
  if (status != GRPO4J_OK || !train) return status;
  return reference_logits_gradient(b, workspace.data(), group_coef.data());
}

}  // namespace grpo4j
