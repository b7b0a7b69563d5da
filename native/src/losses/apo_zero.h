// apo_zero: APO-zero (D'Oosterlinck et al. 2024, Eq. 7): raise the chosen likelihood, lower the rejected one.
//   l = 1 - sigmoid(beta x_w) + sigmoid(beta x_l),  x = s - ref
#ifndef GRPO4J_LOSS_APO_ZERO_H
#define GRPO4J_LOSS_APO_ZERO_H
#include "../pair_loss.h"
namespace grpo4j {
GRPO4J_HD LossTerms loss_apo_zero(const LossParams& p, const PairInput& in) {
  const double qw = sigmoid(p.beta * in.chosen_ratio), ql = sigmoid(p.beta * in.rejected_ratio);
  LossTerms t = no_terms();
  t.loss = 1.0 - qw + ql;
  t.d_chosen_logp = -p.beta * qw * (1.0 - qw);
  t.d_rejected_logp = p.beta * ql * (1.0 - ql);
  return t;
}
}  // namespace grpo4j
#endif
GRPO4J_LOSS(10, apo_zero, GRPO4J_LOSS_USES_REFERENCE, "1 - sigmoid(beta x_w) + sigmoid(beta x_l)")
