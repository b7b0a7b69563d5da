// simpo: SimPO (Meng et al. 2024) as TRL's CPO trainer computes it: reference-free, on the mean token log-probs,
// with a target margin gamma and label smoothing eps.
//   y = beta (s_w / n_w - s_l / n_l) - gamma;  l = -(1-eps) log sigmoid(y) - eps log sigmoid(-y)
#ifndef GRPO4J_LOSS_SIMPO_H
#define GRPO4J_LOSS_SIMPO_H
#include "../pair_loss.h"
namespace grpo4j {
GRPO4J_HD LossTerms loss_simpo(const LossParams& p, const PairInput& in) {
  const double y = p.beta * (in.chosen_logp / in.chosen_tokens - in.rejected_logp / in.rejected_tokens) - p.simpo_gamma;
  const double eps = p.label_smoothing;
  LossTerms t = no_terms();
  t.loss = (1.0 - eps) * softplus(-y) + eps * softplus(y);
  const double dy = -(1.0 - eps) * sigmoid(-y) + eps * sigmoid(y);
  t.d_chosen_logp = p.beta * dy / in.chosen_tokens;
  t.d_rejected_logp = -p.beta * dy / in.rejected_tokens;
  return t;
}
}  // namespace grpo4j
#endif
GRPO4J_LOSS(15, simpo, GRPO4J_LOSS_LABEL_SMOOTHING | GRPO4J_LOSS_LENGTHS | GRPO4J_LOSS_GAMMA,
            "-(1-eps) log sigmoid(y) - eps log sigmoid(-y), y = beta (s_w/n_w - s_l/n_l) - gamma")
