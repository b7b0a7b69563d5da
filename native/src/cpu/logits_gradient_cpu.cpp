// Pass 3 of the CPU backend: for every position p of row r of logits [rows, T, V],
//   grad[p][v] = coef_r * (onehot(label)_v - exp((z[p][v] - m[p]) - log S[p]))   (labelled p)
//   grad[p][v] = 0                                                               (masked p)
// written in the logits type, with m and log S from pass 1. The gradient buffer may be the logits buffer:
// each block of a row is computed into an L1-resident buffer before any of it is written, and the label's
// logit is read before the row is touched, so in place needs no second [rows, T, V] tensor.
// A gradient larger than the caches, written to its own buffer, goes out with non-temporal stores: they
// skip the read-for-ownership of every destination line (a quarter of the traffic otherwise) and keep
// lines that nobody reads soon out of the caches. Positions are split across threads in contiguous slices; each element
// depends only on its position's values, so the output is the same for every thread count. Offsets are
// 64-bit throughout.
#include <string.h>

#include "cpu_backend.h"
#include "intrinsics.h"
#include "thread_pool.h"
#include "vector_math.h"

namespace grpo4j {
namespace cpu {
namespace {

// Gradients at least this large stream past the caches (about the last-level cache of a server part).
constexpr int64_t kStreamingBytes = 32ll << 20;

void write_out(void* dst, const void* src, int64_t bytes, bool streaming) {
  if (streaming)
    stream_copy(dst, src, bytes);
  else
    memcpy(dst, src, bytes);
}

template <int32_t Type>
GRPO4J_CPU_INLINE void gradient_row(const void* logits_row, void* grad_row, int64_t vocab, int64_t label, float max,
                                    float log_sum, float coef, bool streaming) {
  constexpr int64_t esize = Type == GRPO4J_F32 ? 4 : 2;
  const float label_logit = load_element<Type>(logits_row, label);
  float block[kBlock];
  uint16_t narrowed[Type == GRPO4J_F32 ? 1 : kBlock];
  for (int64_t begin = 0; begin < vocab; begin += kBlock) {
    const int64_t n = vocab - begin < kBlock ? vocab - begin : kBlock;
    const void* in = (const char*)logits_row + begin * esize;
    void* out = (char*)grad_row + begin * esize;
    if (Type == GRPO4J_F16) {
      // Halves go through F16C (where the CPU has it) in both directions, a block at a time.
      f16_widen((const uint16_t*)in, block, n);
      block_negative_scaled_softmax<GRPO4J_F32>(block, block, n, max, log_sum, coef);
      f16_narrow(block, narrowed, n);
      write_out(out, narrowed, n * esize, streaming);
    } else if (Type == GRPO4J_BF16) {
      block_negative_scaled_softmax<GRPO4J_BF16>(in, block, n, max, log_sum, coef);
      narrow<GRPO4J_BF16>(block, narrowed, n);
      write_out(out, narrowed, n * esize, streaming);
    } else {
      block_negative_scaled_softmax<GRPO4J_F32>(in, block, n, max, log_sum, coef);
      write_out(out, block, n * esize, streaming);
    }
  }
  const float label_grad = coef * (1.0f - exp_approx((label_logit - max) - log_sum));
  store_logit(grad_row, Type, label, label_grad);
}

GRPO4J_CPU_CLONES void gradient_row_f32(const void* logits_row, void* grad_row, int64_t vocab, int64_t label,
                                        float max, float log_sum, float coef, bool streaming) {
  gradient_row<GRPO4J_F32>(logits_row, grad_row, vocab, label, max, log_sum, coef, streaming);
}

GRPO4J_CPU_CLONES void gradient_row_bf16(const void* logits_row, void* grad_row, int64_t vocab, int64_t label,
                                         float max, float log_sum, float coef, bool streaming) {
  gradient_row<GRPO4J_BF16>(logits_row, grad_row, vocab, label, max, log_sum, coef, streaming);
}

GRPO4J_CPU_CLONES void gradient_row_f16(const void* logits_row, void* grad_row, int64_t vocab, int64_t label,
                                        float max, float log_sum, float coef, bool streaming) {
  gradient_row<GRPO4J_F16>(logits_row, grad_row, vocab, label, max, log_sum, coef, streaming);
}

void zero_row(void* grad_row, int64_t bytes, bool streaming) {
  static const char zeros[kBlock * sizeof(float)] = {};
  for (int64_t begin = 0; begin < bytes; begin += (int64_t)sizeof zeros) {
    const int64_t n = bytes - begin < (int64_t)sizeof zeros ? bytes - begin : (int64_t)sizeof zeros;
    write_out((char*)grad_row + begin, zeros, n, streaming);
  }
}

}  // namespace

void logits_gradient(const grpo4j_tokens& tk, const TokenLogprobs& stats, const float* row_coef, void* grad,
                     int threads) {
  const int64_t positions = tk.rows * tk.seq_len;
  const int64_t vocab = tk.vocab;
  const int64_t row_bytes = vocab * element_size(tk.logits_type);
  const bool streaming = grad != tk.logits && positions * row_bytes >= kStreamingBytes;
  void (*const row_gradient)(const void*, void*, int64_t, int64_t, float, float, float, bool) =
      tk.logits_type == GRPO4J_F32    ? gradient_row_f32
      : tk.logits_type == GRPO4J_BF16 ? gradient_row_bf16
                                      : gradient_row_f16;
  const int parts = pass_threads(threads, positions * vocab, positions);
  parallel_for(positions, parts, [&](int, int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      char* const grad_row = (char*)grad + p * row_bytes;
      const int64_t label = load_label(tk.labels, tk.label_type, p);
      if (label == GRPO4J_IGNORE_INDEX) {
        zero_row(grad_row, row_bytes, streaming);
        continue;
      }
      row_gradient((const char*)tk.logits + p * row_bytes, grad_row, vocab, label, stats.max[p], stats.log_sum[p],
                   row_coef[p / tk.seq_len], streaming);
    }
  });
}

}  // namespace cpu
}  // namespace grpo4j
