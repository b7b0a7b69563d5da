// Internal interface between the CPU backend's passes: pass 1 (token_logprobs_cpu.cpp) reads the logits
// once and keeps, per labelled position, the two numbers pass 3 (logits_gradient_cpu.cpp) needs to rebuild
// the softmax; fused_loss_cpu.cpp runs the small step over pairs and groups in between.
#ifndef GRPO4J_CPU_BACKEND_H
#define GRPO4J_CPU_BACKEND_H

#include <stdint.h>

#include <vector>

#include "../internal.h"

namespace grpo4j {
namespace cpu {

// Results of pass 1. softmax(z[p])_v = exp((z[p][v] - max[p]) - log_sum[p]) at labelled positions p;
// masked positions leave max and log_sum unset. max and log_sum point into the caller's workspace (the phase API)
// or, when left NULL, into storage pass 1 allocates.
struct TokenLogprobs {
  float* max = nullptr;             // [rows * seq_len] largest logit of the position
  float* log_sum = nullptr;         // [rows * seq_len] log sum_v exp(z[p][v] - max[p])
  std::vector<float> storage;       // for max and log_sum when the caller gave none
  std::vector<double> row_logp;     // [rows] s_r, summed over t in order
  std::vector<int32_t> row_tokens;  // [rows] labelled positions of the row
};

// Pass 1 over all positions. A label outside [0, V) (other than -100) or a non-finite log-softmax at a
// labelled position sets its flag bit in *flags (if flags is not NULL) and returns the error of the lowest
// such position, whatever the thread count.
grpo4j_status token_logprobs(const grpo4j_tokens& tokens, int threads, TokenLogprobs& out, int32_t* flags);

// Pass 3: grad[r][t][v] = row_coef[r] * (onehot(label)_v - softmax_v) in the logits type, zeros at masked
// positions. grad may be tokens.logits itself.
void logits_gradient(const grpo4j_tokens& tokens, const TokenLogprobs& stats, const float* row_coef, void* grad,
                     int threads);

// Threads for one pass over `elements` logits split at `positions` boundaries. Below two slices of
// kMinElementsPerThread the pass runs on the calling thread and never wakes the pool: small losses called
// in a tight loop (T = 1, V = 8) would otherwise pay a thread handoff per call for microseconds of work.
constexpr int64_t kMinElementsPerThread = 16384;
constexpr int kMaxThreads = 256;

inline int pass_threads(int requested, int64_t elements, int64_t positions) {
  int64_t parts = elements / kMinElementsPerThread;
  if (parts > requested) parts = requested;
  if (parts > positions) parts = positions;
  if (parts > kMaxThreads) parts = kMaxThreads;
  return parts < 2 ? 1 : (int)parts;
}

}  // namespace cpu
}  // namespace grpo4j

#endif
