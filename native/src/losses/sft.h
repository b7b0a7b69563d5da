// sft: the chosen response's negative log-likelihood per token, l = -s_w / n_w. TRL averages over every chosen token
// of a batch; grpo4j averages per pair, so that the term is the pair's own and can be weighted per group: the two
// agree when the chosen responses of a batch are equally long. Reference-free; usually a term of a mixture.
#ifndef GRPO4J_LOSS_SFT_H
#define GRPO4J_LOSS_SFT_H
#include "../pair_loss.h"
namespace grpo4j {
GRPO4J_HD LossTerms loss_sft(const LossParams&, const PairInput& in) {
  LossTerms t = no_terms();
  t.loss = -in.chosen_logp / in.chosen_tokens;
  t.d_chosen_logp = -1.0 / in.chosen_tokens;
  return t;
}
}  // namespace grpo4j
#endif
GRPO4J_LOSS(13, sft, GRPO4J_LOSS_F_DIVERGENCE | GRPO4J_LOSS_LENGTHS, "-s_w / n_w")
