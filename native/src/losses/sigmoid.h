// sigmoid: DPO (Rafailov et al. 2023), with cDPO's label smoothing eps (TRL 1.13's sigmoid is the eps = 0 case).
//   d = score_w - score_l;  l = -(1-eps) log sigmoid(beta d) - eps log sigmoid(-beta d)
#ifndef GRPO4J_LOSS_SIGMOID_H
#define GRPO4J_LOSS_SIGMOID_H
#include "../pair_loss.h"
namespace grpo4j {
GRPO4J_HD LossTerms loss_sigmoid(const LossParams& p, const PairInput& in) {
  const double x = p.beta * (in.chosen_score - in.rejected_score), eps = p.label_smoothing;
  LossTerms t = no_terms();
  t.loss = (1.0 - eps) * softplus(-x) + eps * softplus(x);
  const double dd = -p.beta * (1.0 - eps) * sigmoid(-x) + p.beta * eps * sigmoid(x);
  t.d_chosen_score = dd;
  t.d_rejected_score = -dd;
  return t;
}
}  // namespace grpo4j
#endif
GRPO4J_LOSS(0, sigmoid, GRPO4J_LOSS_USES_REFERENCE | GRPO4J_LOSS_F_DIVERGENCE | GRPO4J_LOSS_LABEL_SMOOTHING,
            "-(1-eps) log sigmoid(beta d) - eps log sigmoid(-beta d), d = score_w - score_l")
