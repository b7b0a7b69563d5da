// Internal declarations shared by the backends: error reporting, element conversions, backend entry points.
#ifndef GRPO4J_INTERNAL_H
#define GRPO4J_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "grpo4j.h"

#if defined(__CUDACC__)
#define GRPO4J_HD __host__ __device__ __forceinline__
#else
#define GRPO4J_HD inline
#endif

namespace grpo4j {

// Sets the calling thread's message for grpo4j_last_error() and returns status, printf-style.
grpo4j_status fail(grpo4j_status status, const char* format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void clear_error();

GRPO4J_HD float bf16_to_float(uint16_t bits) {
  uint32_t u = (uint32_t)bits << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even; NaN stays NaN (quiet bit forced so the truncation cannot make it infinite).
GRPO4J_HD uint16_t float_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

GRPO4J_HD float f16_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t u;
  if (exponent == 0x1fu) {
    u = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    u = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    u = sign;
  } else {
    // Subnormal half: value = mantissa * 2^-24, exact in float.
    float magnitude = (float)mantissa * 5.9604644775390625e-8f;
    memcpy(&u, &magnitude, 4);
    u |= sign;
  }
  float f;
  memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even, with subnormals, overflow to infinity and NaN preserved.
GRPO4J_HD uint16_t float_to_f16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
  if (abs >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);  // rounds to >= 65520: infinity
  if (abs >= 0x38800000u) {                                    // normal half
    uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
    return (uint16_t)(sign | ((rounded - 0x38000000u) >> 13));
  }
  if (abs < 0x33000000u) return (uint16_t)sign;  // below half the smallest subnormal
  // Subnormal half: shift the full mantissa right with round to nearest even.
  uint32_t exponent = abs >> 23;
  uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
  uint32_t shift = 126u - exponent;  // 14..24
  uint32_t half = mantissa >> shift;
  uint32_t remainder = mantissa & ((1u << shift) - 1u);
  uint32_t midpoint = 1u << (shift - 1u);
  if (remainder > midpoint || (remainder == midpoint && (half & 1u))) half++;
  return (uint16_t)(sign | half);
}

GRPO4J_HD int64_t element_size(int32_t float_type) { return float_type == GRPO4J_F32 ? 4 : 2; }
GRPO4J_HD int64_t index_size(int32_t index_type) { return index_type == GRPO4J_I64 ? 8 : 4; }

GRPO4J_HD float load_logit(const void* base, int32_t float_type, int64_t i) {
  if (float_type == GRPO4J_F32) return ((const float*)base)[i];
  uint16_t bits = ((const uint16_t*)base)[i];
  return float_type == GRPO4J_BF16 ? bf16_to_float(bits) : f16_to_float(bits);
}

GRPO4J_HD void store_logit(void* base, int32_t float_type, int64_t i, float value) {
  if (float_type == GRPO4J_F32) {
    ((float*)base)[i] = value;
  } else {
    ((uint16_t*)base)[i] = float_type == GRPO4J_BF16 ? float_to_bf16(value) : float_to_f16(value);
  }
}

GRPO4J_HD int64_t load_label(const void* base, int32_t index_type, int64_t i) {
  return index_type == GRPO4J_I64 ? ((const int64_t*)base)[i] : (int64_t)((const int32_t*)base)[i];
}

// Backend entry points, called by api.cpp after the arguments passed grpo4j::validate_*.
// `train` = forward_backward (gradient + weight update); otherwise forward only.
grpo4j_status reference_loss(const grpo4j_options& options, const grpo4j_batch& batch, bool train);
grpo4j_status reference_sequence_logprobs(const grpo4j_tokens& tokens, float* logps, int32_t* token_counts,
                                          int32_t* flags);
grpo4j_status cpu_loss(const grpo4j_options& options, const grpo4j_batch& batch, bool train, int threads);
grpo4j_status cpu_sequence_logprobs(const grpo4j_tokens& tokens, float* logps, int32_t* token_counts,
                                    int32_t* flags, int threads);
grpo4j_status cuda_loss(const grpo4j_options& options, const grpo4j_batch& batch, bool train, void* stream);
grpo4j_status cuda_sequence_logprobs(const grpo4j_tokens& tokens, float* logps, int32_t* token_counts,
                                     int32_t* flags, void* stream);

// The phases (grpo4j_loss_statistics, grpo4j_group_step, grpo4j_logits_gradient) on each backend.
grpo4j_status cpu_loss_statistics(const grpo4j_options& options, const grpo4j_batch& batch, double* group_stats,
                                  void* workspace, int threads);
grpo4j_status cpu_group_step(const grpo4j_options& options, const grpo4j_batch& batch, const double* group_stats,
                             bool update_weights, double* group_coef);
grpo4j_status cpu_logits_gradient(const grpo4j_batch& batch, const void* workspace, const double* group_coef,
                                  int threads);
grpo4j_status cuda_loss_statistics(const grpo4j_options& options, const grpo4j_batch& batch, double* group_stats,
                                   void* workspace, void* stream);
grpo4j_status cuda_group_step(const grpo4j_options& options, const grpo4j_batch& batch, const double* group_stats,
                              bool update_weights, double* group_coef, void* stream);
grpo4j_status cuda_logits_gradient(const grpo4j_batch& batch, const void* workspace, const double* group_coef,
                                   void* stream);
grpo4j_status reference_loss_statistics(const grpo4j_options& options, const grpo4j_batch& batch,
                                        double* group_stats, void* workspace);
grpo4j_status reference_group_step(const grpo4j_options& options, const grpo4j_batch& batch,
                                   const double* group_stats, bool update_weights, double* group_coef);
grpo4j_status reference_logits_gradient(const grpo4j_batch& batch, const void* workspace, const double* group_coef);

// Sequence-level phases and token-level passes (grpo4j_sequence_statistics, grpo4j_sequence_gradient,
// grpo4j_token_logprobs, grpo4j_token_gradient) on each backend. token_counts may be NULL (all 1).
grpo4j_status cpu_sequence_statistics(const grpo4j_options& options, const grpo4j_batch& batch, const float* logps,
                                      const int32_t* token_counts, double* group_stats, double* dloss);
grpo4j_status reference_sequence_statistics(const grpo4j_options& options, const grpo4j_batch& batch,
                                            const float* logps, const int32_t* token_counts, double* group_stats,
                                            double* dloss);
grpo4j_status cuda_sequence_statistics(const grpo4j_options& options, const grpo4j_batch& batch, const float* logps,
                                       const int32_t* token_counts, double* group_stats, double* dloss, void* stream);
grpo4j_status host_sequence_gradient(const grpo4j_batch& batch, const double* dloss, const double* group_coef,
                                     float* row_coef);
grpo4j_status cuda_sequence_gradient(const grpo4j_batch& batch, const double* dloss, const double* group_coef,
                                     float* row_coef, void* stream);
grpo4j_status cpu_token_logprobs(const grpo4j_tokens& tokens, void* stats, float* logps, int32_t* flags, int threads);
grpo4j_status cpu_token_gradient(const grpo4j_tokens& tokens, const void* stats, const float* coef, void* grad,
                                 int threads);
grpo4j_status reference_token_logprobs(const grpo4j_tokens& tokens, void* stats, float* logps, int32_t* flags);
grpo4j_status reference_token_gradient(const grpo4j_tokens& tokens, const void* stats, const float* coef, void* grad);
grpo4j_status cuda_token_logprobs(const grpo4j_tokens& tokens, void* stats, float* logps, int32_t* flags,
                                  void* stream);
grpo4j_status cuda_token_gradient(const grpo4j_tokens& tokens, const void* stats, const float* coef, void* grad,
                                  void* stream);

// Every position of tokens as a row of one position: the token-level passes run the row kernels on this view.
inline grpo4j_tokens positions_as_rows(const grpo4j_tokens& tokens) {
  grpo4j_tokens flat = tokens;
  flat.rows = tokens.rows * tokens.seq_len;
  flat.seq_len = 1;
  return flat;
}

// The host workspace of the phases: softmax statistics per position, then dl/ds per row.
struct HostWorkspace {
  float* max;      // [rows * seq_len]
  float* log_sum;  // [rows * seq_len]
  double* dloss;   // [rows]: rows [0, B) dl_i/ds_w, rows [B, 2B) dl_i/ds_l
};

inline int64_t workspace_bytes(int64_t rows, int64_t seq_len) {
  // 12 bytes per position and 32 per row cover the CUDA backend's layout too, plus alignment slack.
  return rows * seq_len * 12 + rows * 32 + 4096;
}

inline HostWorkspace host_workspace(void* base, int64_t rows, int64_t seq_len) {
  const int64_t positions = rows * seq_len;
  HostWorkspace w;
  w.max = static_cast<float*>(base);
  w.log_sum = w.max + positions;
  w.dloss = reinterpret_cast<double*>(static_cast<unsigned char*>(base) + ((positions * 8 + 15) & ~(int64_t)15));
  return w;
}

inline const double* group_row(const double* stats, int g) { return stats + (int64_t)g * GRPO4J_GROUP_STATS; }

// Host-side checks of values that live in host memory (CPU and reference backends): group ids, group sizes.
grpo4j_status check_host_groups(const grpo4j_options& options, const grpo4j_batch& batch);
// The two halves of check_host_groups: the pairs' inputs (group ids, reference log-probs), and the group state
// (group sizes where needed, finite log alpha).
grpo4j_status check_host_inputs(const grpo4j_batch& batch);
grpo4j_status check_host_group_ids(const grpo4j_batch& batch);
grpo4j_status check_host_group_state(const grpo4j_options& options, const grpo4j_batch& batch);
// Message for a label or logit problem found by a kernel at flat position `position` of `tokens`.
grpo4j_status token_flag_error(int32_t flag, const grpo4j_tokens& tokens, int64_t position);

}  // namespace grpo4j

#endif
