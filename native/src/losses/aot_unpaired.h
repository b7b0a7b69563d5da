// aot_unpaired: AOT (Melnyk et al. 2024), unpaired: the chosen log-ratios x_w and the rejected ones x_l are each
// sorted within the pair's group in the call, and the k-th are compared: loss_k = f(beta (x_w(k) - x_l(k))) with
// f(y) = -(1-eps) log sigmoid(y) - eps log sigmoid(-y). Pair i holds the term at the rank of its x_w; its x_l enters
// the term at the rank of its x_l (another pair's, in general), which is where its derivative comes from.
#ifndef GRPO4J_LOSS_AOT_UNPAIRED_H
#define GRPO4J_LOSS_AOT_UNPAIRED_H
#include "../pair_loss.h"
namespace grpo4j {
GRPO4J_HD LossTerms loss_aot_unpaired(const LossParams& p, const PairInput& in) {
  const double eps = p.label_smoothing;
  const double own = p.beta * (in.chosen_ratio - in.rejected_ratio_at_rank);
  const double other = p.beta * (in.chosen_ratio_at_rank - in.rejected_ratio);
  LossTerms t = no_terms();
  t.loss = (1.0 - eps) * softplus(-own) + eps * softplus(own);
  t.d_chosen_logp = p.beta * (-(1.0 - eps) * sigmoid(-own) + eps * sigmoid(own));
  t.d_rejected_logp = -p.beta * (-(1.0 - eps) * sigmoid(-other) + eps * sigmoid(other));
  return t;
}
}  // namespace grpo4j
#endif
GRPO4J_LOSS(9, aot_unpaired, GRPO4J_LOSS_USES_REFERENCE | GRPO4J_LOSS_LABEL_SMOOTHING | GRPO4J_LOSS_SORTS,
            "sigmoid loss of sort(x_w)[k] - sort(x_l)[k], sorted within the group")
