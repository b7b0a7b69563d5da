// robust: rDPO (Chowdhury et al. 2024), unbiased under label flips of rate eps:
//   x = beta (score_w - score_l);  l = ((1-eps) (-log sigmoid(x)) - eps (-log sigmoid(-x))) / (1 - 2 eps)
#ifndef GRPO4J_LOSS_ROBUST_H
#define GRPO4J_LOSS_ROBUST_H
#include "../pair_loss.h"
namespace grpo4j {
GRPO4J_HD LossTerms loss_robust(const LossParams& p, const PairInput& in) {
  const double x = p.beta * (in.chosen_score - in.rejected_score), eps = p.label_smoothing;
  const double scale = 1.0 / (1.0 - 2.0 * eps);
  LossTerms t = no_terms();
  t.loss = ((1.0 - eps) * softplus(-x) - eps * softplus(x)) * scale;
  const double dx = (-(1.0 - eps) * sigmoid(-x) - eps * sigmoid(x)) * scale;
  t.d_chosen_score = p.beta * dx;
  t.d_rejected_score = -p.beta * dx;
  return t;
}
}  // namespace grpo4j
#endif
GRPO4J_LOSS(5, robust, GRPO4J_LOSS_USES_REFERENCE | GRPO4J_LOSS_F_DIVERGENCE | GRPO4J_LOSS_LABEL_SMOOTHING,
            "((1-eps) (-log sigmoid(beta d)) - eps (-log sigmoid(-beta d))) / (1 - 2 eps)")
