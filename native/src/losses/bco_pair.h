// bco_pair: BCO (Jung et al. 2024) on pairs, as TRL 1.13 computes it (no running reward mean):
//   l = -log sigmoid(beta x_w) - log sigmoid(-beta x_l),  x = s - ref
#ifndef GRPO4J_LOSS_BCO_PAIR_H
#define GRPO4J_LOSS_BCO_PAIR_H
#include "../pair_loss.h"
namespace grpo4j {
GRPO4J_HD LossTerms loss_bco_pair(const LossParams& p, const PairInput& in) {
  const double cw = p.beta * in.chosen_ratio, cl = p.beta * in.rejected_ratio;
  LossTerms t = no_terms();
  t.loss = softplus(-cw) + softplus(cl);
  t.d_chosen_logp = -p.beta * sigmoid(-cw);
  t.d_rejected_logp = p.beta * sigmoid(cl);
  return t;
}
}  // namespace grpo4j
#endif
GRPO4J_LOSS(6, bco_pair, GRPO4J_LOSS_USES_REFERENCE, "-log sigmoid(beta x_w) - log sigmoid(-beta x_l)")
