// aot: AOT (Melnyk et al. 2024), paired: the policy margins s_w - s_l and the reference margins ref_w - ref_l are
// each sorted, and the k-th of one is compared with the k-th of the other. TRL sorts over the whole batch; grpo4j
// sorts within each group's pairs of a call, so that a group's loss stays its own. Pair i, whose policy margin has
// rank k in its group, takes
//   delta = (s_w - s_l) - (ref margins sorted)[k];  l = -(1-eps) log sigmoid(beta delta) - eps log sigmoid(-beta delta)
#ifndef GRPO4J_LOSS_AOT_H
#define GRPO4J_LOSS_AOT_H
#include "../pair_loss.h"
namespace grpo4j {
GRPO4J_HD LossTerms loss_aot(const LossParams& p, const PairInput& in) {
  const double x = p.beta * (in.chosen_logp - in.rejected_logp - in.ref_margin_at_rank), eps = p.label_smoothing;
  LossTerms t = no_terms();
  t.loss = (1.0 - eps) * softplus(-x) + eps * softplus(x);
  const double dx = -(1.0 - eps) * sigmoid(-x) + eps * sigmoid(x);
  t.d_chosen_logp = p.beta * dx;
  t.d_rejected_logp = -p.beta * dx;
  return t;
}
}  // namespace grpo4j
#endif
GRPO4J_LOSS(8, aot, GRPO4J_LOSS_USES_REFERENCE | GRPO4J_LOSS_LABEL_SMOOTHING | GRPO4J_LOSS_SORTS,
            "sigmoid loss of sort(s_w - s_l)[k] - sort(ref_w - ref_l)[k], sorted within the group")
