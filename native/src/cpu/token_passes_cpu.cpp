// The token-level passes (grpo4j_token_logprobs, grpo4j_token_gradient) on the CPU: the row passes of the fused loss
// run on a view in which every position is a row of its own, so a caller that forms the logits a chunk of tokens at
// a time (the fused LM head) gets the same vectorised, multithreaded passes: one read of the chunk for the log-probs
// and the softmax statistics (max and log-sum, 8 bytes per position), one more read and one write for dJ/dz.
#include "../internal.h"
#include "cpu_backend.h"

namespace grpo4j {

namespace {
// The CPU layout of the statistics: every position's max, then every position's log-sum.
cpu::TokenLogprobs stats_view(void* stats, int64_t positions) {
  cpu::TokenLogprobs view;
  view.max = static_cast<float*>(stats);
  view.log_sum = view.max + positions;
  return view;
}
}  // namespace

grpo4j_status cpu_token_logprobs(const grpo4j_tokens& tokens, void* stats, float* logps, int32_t* flags,
                                 int threads) {
  const grpo4j_tokens flat = positions_as_rows(tokens);
  cpu::TokenLogprobs rows = stats_view(stats, flat.rows);
  if (flags) *flags = 0;
  grpo4j_status status = cpu::token_logprobs(flat, threads, rows, flags);
  if (status != GRPO4J_OK) return status;
  for (int64_t p = 0; p < flat.rows; ++p) logps[p] = (float)rows.row_logp[p];
  return GRPO4J_OK;
}

grpo4j_status cpu_token_gradient(const grpo4j_tokens& tokens, const void* stats, const float* coef, void* grad,
                                 int threads) {
  const grpo4j_tokens flat = positions_as_rows(tokens);
  cpu::logits_gradient(flat, stats_view(const_cast<void*>(stats), flat.rows), coef, grad, threads);
  return GRPO4J_OK;
}

}  // namespace grpo4j
