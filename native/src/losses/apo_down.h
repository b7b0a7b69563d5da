// apo_down: APO-down (D'Oosterlinck et al. 2024, Eq. 8), for chosen answers worse than the model's own: lower both
// likelihoods, the rejected one more.
//   l = sigmoid(beta x_w) + 1 - sigmoid(beta (x_w - x_l)),  x = s - ref
#ifndef GRPO4J_LOSS_APO_DOWN_H
#define GRPO4J_LOSS_APO_DOWN_H
#include "../pair_loss.h"
namespace grpo4j {
GRPO4J_HD LossTerms loss_apo_down(const LossParams& p, const PairInput& in) {
  const double qw = sigmoid(p.beta * in.chosen_ratio);
  const double qm = sigmoid(p.beta * (in.chosen_ratio - in.rejected_ratio));
  LossTerms t = no_terms();
  t.loss = qw + 1.0 - qm;
  t.d_chosen_logp = p.beta * qw * (1.0 - qw) - p.beta * qm * (1.0 - qm);
  t.d_rejected_logp = p.beta * qm * (1.0 - qm);
  return t;
}
}  // namespace grpo4j
#endif
GRPO4J_LOSS(11, apo_down, GRPO4J_LOSS_USES_REFERENCE, "sigmoid(beta x_w) + 1 - sigmoid(beta (x_w - x_l))")
