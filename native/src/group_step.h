// The small step between the two passes over the logits: B pairs and K groups, in double.
//   l_i and dl_i/ds: pair_loss.h (the loss table)
//   L_g = norm_g * sum_{i in g} l_i,  A_g = L_g + C/sqrt(N_g)
//   ROBUST (training): log_alpha += eta*A; log_alpha -= logsumexp(log_alpha); w_g = (1-chi)/K + chi*alpha_g
//   J = sum_g w_g A_g (AVERAGE: mean_i l_i), coef_r = dJ/ds_r.
// Shared by the CPU backend and the CUDA tiny kernel so that both compute exactly the same expressions;
// the reference backend writes its own loops on purpose.
#ifndef GRPO4J_GROUP_STEP_H
#define GRPO4J_GROUP_STEP_H

#include <math.h>

#include "internal.h"
#include "pair_loss.h"

namespace grpo4j {

// f16's largest finite value. |dJ/dz[r][t][v]| = |coef_r| * |onehot - softmax| < |coef_r|, so an f16 gradient stays
// finite whenever every |coef_r| is below it; at or beyond it the call is refused (GRPO4J_FLAG_GRAD_RANGE).
constexpr double kF16Max = 65504.0;

GRPO4J_HD bool f16_gradient_out_of_range(int32_t logits_type, double coef) {
  return logits_type == GRPO4J_F16 && !(fabs(coef) < kF16Max);
}

// Factor that turns the sum of group g's pair losses into L_g.
GRPO4J_HD double group_normaliser(const grpo4j_options& o, int64_t count_in_batch, int64_t group_size,
                                  int64_t dataset_size, int64_t num_pairs) {
  if (count_in_batch == 0) return 0.0;
  if (o.group_norm == GRPO4J_NORM_DATASET_FREQUENCY)
    return (double)dataset_size / ((double)group_size * (double)num_pairs);
  return 1.0 / (double)count_in_batch;
}

GRPO4J_HD double group_adjustment(const grpo4j_options& o, const int64_t* group_sizes, int g) {
  return o.adjustment != 0.0 ? o.adjustment / sqrt((double)group_sizes[g]) : 0.0;
}

// Exponentiated-gradient step on the simplex, in log space so that eta*A of any size stays finite.
GRPO4J_HD void robust_weight_update(double* log_alpha, const double* adjusted_loss, int num_groups, double eta) {
  double max_value = -INFINITY;
  for (int g = 0; g < num_groups; ++g) {
    log_alpha[g] += eta * adjusted_loss[g];
    max_value = log_alpha[g] > max_value ? log_alpha[g] : max_value;
  }
  double sum = 0.0;
  for (int g = 0; g < num_groups; ++g) sum += exp(log_alpha[g] - max_value);
  double log_sum = max_value + log(sum);
  for (int g = 0; g < num_groups; ++g) log_alpha[g] -= log_sum;
}

// w_g as used in J. For AVERAGE it is the group's share of the batch (reported, not used).
GRPO4J_HD double group_weight(const grpo4j_options& o, const double* log_alpha, const int64_t* group_sizes,
                              double inverse_size_sum, int32_t count_in_batch, int64_t num_pairs, int g,
                              int num_groups) {
  if (o.weighting == GRPO4J_WEIGHTING_ROBUST)
    return (1.0 - o.chi) / num_groups + o.chi * exp(log_alpha[g]);
  if (o.weighting == GRPO4J_WEIGHTING_IMPORTANCE_SAMPLING)
    return (1.0 / (double)group_sizes[g]) / inverse_size_sum;
  return (double)count_in_batch / (double)num_pairs;
}

GRPO4J_HD bool needs_group_sizes(const grpo4j_options& o) {
  return o.group_norm == GRPO4J_NORM_DATASET_FREQUENCY || o.weighting == GRPO4J_WEIGHTING_IMPORTANCE_SAMPLING ||
         o.adjustment != 0.0;
}

}  // namespace grpo4j

#endif
