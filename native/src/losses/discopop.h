// discopop: DiscoPOP (Chris Lu et al. 2024, Eq. 5), a blend of the logistic and the exponential loss:
//   x = beta (score_w - score_l),  m = sigmoid(x / tau);  l = (1-m) (-log sigmoid(x)) + m exp(-x)
// m exp(-x) is taken as exp(-x + log m), which stays finite wherever the product is.
#ifndef GRPO4J_LOSS_DISCOPOP_H
#define GRPO4J_LOSS_DISCOPOP_H
#include "../pair_loss.h"
namespace grpo4j {
GRPO4J_HD LossTerms loss_discopop(const LossParams& p, const PairInput& in) {
  const double x = p.beta * (in.chosen_score - in.rejected_score), tau = p.discopop_tau;
  const double m = sigmoid(x / tau), logistic = softplus(-x);
  const double m_exp = exp(-x - softplus(-x / tau));                  // m exp(-x)
  const double m_exp_dm = exp(-x - softplus(-x / tau) - softplus(x / tau));  // m (1-m) exp(-x)
  LossTerms t = no_terms();
  t.loss = logistic * (1.0 - m) + m_exp;
  // d/dx: -(1-m) sigmoid(-x) - logistic m (1-m) / tau - m exp(-x) + m (1-m) exp(-x) / tau
  const double dx = -(1.0 - m) * sigmoid(-x) - logistic * m * (1.0 - m) / tau - m_exp + m_exp_dm / tau;
  t.d_chosen_score = p.beta * dx;
  t.d_rejected_score = -p.beta * dx;
  return t;
}
}  // namespace grpo4j
#endif
GRPO4J_LOSS(12, discopop, GRPO4J_LOSS_USES_REFERENCE | GRPO4J_LOSS_F_DIVERGENCE | GRPO4J_LOSS_TAU,
            "(1-m) (-log sigmoid(beta d)) + m exp(-beta d), m = sigmoid(beta d / tau)")
