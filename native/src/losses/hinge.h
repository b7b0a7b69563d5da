// hinge: SLiC (Zhao et al. 2023).  l = max(0, 1 - beta d), d = score_w - score_l
#ifndef GRPO4J_LOSS_HINGE_H
#define GRPO4J_LOSS_HINGE_H
#include "../pair_loss.h"
namespace grpo4j {
GRPO4J_HD LossTerms loss_hinge(const LossParams& p, const PairInput& in) {
  const double slack = 1.0 - p.beta * (in.chosen_score - in.rejected_score);
  LossTerms t = no_terms();
  t.loss = slack > 0.0 ? slack : 0.0;
  t.d_chosen_score = slack > 0.0 ? -p.beta : 0.0;
  t.d_rejected_score = slack > 0.0 ? p.beta : 0.0;
  return t;
}
}  // namespace grpo4j
#endif
GRPO4J_LOSS(2, hinge, GRPO4J_LOSS_USES_REFERENCE | GRPO4J_LOSS_F_DIVERGENCE,
            "max(0, 1 - beta d), d = score_w - score_l")
