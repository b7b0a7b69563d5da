// sigmoid_norm: the sigmoid loss on length-normalised scores.
//   d = score_w / n_w - score_l / n_l;  l = -log sigmoid(beta d)
#ifndef GRPO4J_LOSS_SIGMOID_NORM_H
#define GRPO4J_LOSS_SIGMOID_NORM_H
#include "../pair_loss.h"
namespace grpo4j {
GRPO4J_HD LossTerms loss_sigmoid_norm(const LossParams& p, const PairInput& in) {
  const double x = p.beta * (in.chosen_score / in.chosen_tokens - in.rejected_score / in.rejected_tokens);
  LossTerms t = no_terms();
  t.loss = softplus(-x);
  const double dx = -p.beta * sigmoid(-x);
  t.d_chosen_score = dx / in.chosen_tokens;
  t.d_rejected_score = -dx / in.rejected_tokens;
  return t;
}
}  // namespace grpo4j
#endif
GRPO4J_LOSS(14, sigmoid_norm, GRPO4J_LOSS_USES_REFERENCE | GRPO4J_LOSS_F_DIVERGENCE | GRPO4J_LOSS_LENGTHS,
            "-log sigmoid(beta (score_w/n_w - score_l/n_l))")
