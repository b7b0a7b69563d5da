// exo_pair: EXO (Ji et al. 2024, Eq. 16), KL(q || p) between q = softmax of beta times the two scores and
// p = (1-eps, eps):
//   x = beta (score_w - score_l)
//   l = sigmoid(x) (log sigmoid(x) - log(1-eps)) + sigmoid(-x) (log sigmoid(-x) - log eps)
//   dl/dx = sigmoid(x) sigmoid(-x) (x - log((1-eps)/eps))
#ifndef GRPO4J_LOSS_EXO_PAIR_H
#define GRPO4J_LOSS_EXO_PAIR_H
#include "../pair_loss.h"
namespace grpo4j {
GRPO4J_HD LossTerms loss_exo_pair(const LossParams& p, const PairInput& in) {
  const double x = p.beta * (in.chosen_score - in.rejected_score), eps = p.label_smoothing;
  const double qw = sigmoid(x), ql = sigmoid(-x);
  LossTerms t = no_terms();
  t.loss = qw * (-softplus(-x) - log1p(-eps)) + ql * (-softplus(x) - log(eps));
  const double dx = qw * ql * (x - log1p(-eps) + log(eps));
  t.d_chosen_score = p.beta * dx;
  t.d_rejected_score = -p.beta * dx;
  return t;
}
}  // namespace grpo4j
#endif
GRPO4J_LOSS(3, exo_pair,
            GRPO4J_LOSS_USES_REFERENCE | GRPO4J_LOSS_F_DIVERGENCE | GRPO4J_LOSS_LABEL_SMOOTHING |
                GRPO4J_LOSS_NEEDS_SMOOTHING,
            "q_w (log q_w - log(1-eps)) + q_l (log q_l - log eps), q_w = sigmoid(beta d) = 1 - q_l")
