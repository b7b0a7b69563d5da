// sppo_hard: SPPO (Wu et al. 2024, Eq. 4.7) with hard win probabilities 1 and 0:
//   l = (x_w - 1/(2 beta))^2 + (x_l + 1/(2 beta))^2,  x = s - ref
#ifndef GRPO4J_LOSS_SPPO_HARD_H
#define GRPO4J_LOSS_SPPO_HARD_H
#include "../pair_loss.h"
namespace grpo4j {
GRPO4J_HD LossTerms loss_sppo_hard(const LossParams& p, const PairInput& in) {
  const double ew = in.chosen_ratio - 0.5 / p.beta, el = in.rejected_ratio + 0.5 / p.beta;
  LossTerms t = no_terms();
  t.loss = ew * ew + el * el;
  t.d_chosen_logp = 2.0 * ew;
  t.d_rejected_logp = 2.0 * el;
  return t;
}
}  // namespace grpo4j
#endif
GRPO4J_LOSS(7, sppo_hard, GRPO4J_LOSS_USES_REFERENCE, "(x_w - 1/(2 beta))^2 + (x_l + 1/(2 beta))^2")
