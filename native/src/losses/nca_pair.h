// nca_pair: NCA (Chen et al. 2024) on the log-ratios x = s - ref:
//   l = -log sigmoid(beta x_w) - 0.5 log sigmoid(-beta x_w) - 0.5 log sigmoid(-beta x_l)
#ifndef GRPO4J_LOSS_NCA_PAIR_H
#define GRPO4J_LOSS_NCA_PAIR_H
#include "../pair_loss.h"
namespace grpo4j {
GRPO4J_HD LossTerms loss_nca_pair(const LossParams& p, const PairInput& in) {
  const double cw = p.beta * in.chosen_ratio, cl = p.beta * in.rejected_ratio;
  LossTerms t = no_terms();
  t.loss = softplus(-cw) + 0.5 * softplus(cw) + 0.5 * softplus(cl);
  t.d_chosen_logp = p.beta * (-sigmoid(-cw) + 0.5 * sigmoid(cw));
  t.d_rejected_logp = p.beta * 0.5 * sigmoid(cl);
  return t;
}
}  // namespace grpo4j
#endif
GRPO4J_LOSS(4, nca_pair, GRPO4J_LOSS_USES_REFERENCE,
            "-log sigmoid(beta x_w) - 0.5 log sigmoid(-beta x_w) - 0.5 log sigmoid(-beta x_l)")
