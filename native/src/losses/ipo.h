// ipo: IPO (Azar et al. 2023, Eq. 17). With ipo_length_norm each score is divided by its response length first
// (TRL's ipo always does; the paper's GR-IPO does not).
//   d = score_w / n_w - score_l / n_l  (n = 1 without length norm);  l = (d - 1/(2 beta))^2
#ifndef GRPO4J_LOSS_IPO_H
#define GRPO4J_LOSS_IPO_H
#include "../pair_loss.h"
namespace grpo4j {
GRPO4J_HD LossTerms loss_ipo(const LossParams& p, const PairInput& in) {
  const double nw = p.ipo_length_norm ? in.chosen_tokens : 1.0, nl = p.ipo_length_norm ? in.rejected_tokens : 1.0;
  const double d = in.chosen_score / nw - in.rejected_score / nl - 1.0 / (2.0 * p.beta);
  LossTerms t = no_terms();
  t.loss = d * d;
  t.d_chosen_score = 2.0 * d / nw;
  t.d_rejected_score = -2.0 * d / nl;
  return t;
}
}  // namespace grpo4j
#endif
GRPO4J_LOSS(1, ipo, GRPO4J_LOSS_USES_REFERENCE | GRPO4J_LOSS_F_DIVERGENCE | GRPO4J_LOSS_LENGTHS,
            "(score_w/n_w - score_l/n_l - 1/(2 beta))^2")
