// The C ABI: argument validation, backend dispatch, thread-local error messages. Every entry point
// catches everything so that no C++ exception crosses into the caller (the JVM would abort).
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include <stddef.h>

#include <algorithm>
#include <exception>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "group_step.h"
#include "internal.h"

namespace grpo4j {

namespace {

// The loss table as the files of src/losses/ register it, in code order.
struct LossEntry {
  int32_t code;
  const char* name;
  int32_t flags;
  const char* formula;
};

const std::vector<LossEntry>& loss_table() {
  static const std::vector<LossEntry> table = [] {
    std::vector<LossEntry> entries = {
#define GRPO4J_LOSS(code, name, flags, formula) {code, #name, flags, formula},
#include "loss_registry.inc"
#undef GRPO4J_LOSS
    };
    std::sort(entries.begin(), entries.end(), [](const LossEntry& a, const LossEntry& b) { return a.code < b.code; });
    return entries;
  }();
  return table;
}

const char* loss_name(int32_t code) {
  for (const LossEntry& e : loss_table())
    if (e.code == code) return e.name;
  return "?";
}
thread_local char last_message[1024] = "";

const char* float_type_name(int32_t t) { return t == GRPO4J_F32 ? "f32" : t == GRPO4J_BF16 ? "bf16" : "f16"; }

grpo4j_status validate_tokens(const grpo4j_tokens* tk, const char* what) {
  if (!tk) return fail(GRPO4J_INVALID_ARGUMENT, "%s is NULL", what);
  if (!tk->logits) return fail(GRPO4J_INVALID_ARGUMENT, "%s.logits is NULL: pass the logits buffer", what);
  if (!tk->labels) return fail(GRPO4J_INVALID_ARGUMENT, "%s.labels is NULL: pass the labels buffer", what);
  if (tk->rows < 1) return fail(GRPO4J_INVALID_ARGUMENT, "%s.rows = %lld: must be >= 1", what, (long long)tk->rows);
  if (tk->seq_len < 1)
    return fail(GRPO4J_INVALID_ARGUMENT, "%s.seq_len = %lld: must be >= 1", what, (long long)tk->seq_len);
  if (tk->vocab < 1)
    return fail(GRPO4J_INVALID_ARGUMENT, "%s.vocab = %lld: the vocabulary size must be >= 1", what,
                (long long)tk->vocab);
  if (tk->logits_type < GRPO4J_F32 || tk->logits_type > GRPO4J_F16)
    return fail(GRPO4J_INVALID_ARGUMENT, "%s.logits_type = %d: use GRPO4J_F32, GRPO4J_BF16 or GRPO4J_F16", what,
                tk->logits_type);
  if (tk->label_type != GRPO4J_I32 && tk->label_type != GRPO4J_I64)
    return fail(GRPO4J_INVALID_ARGUMENT, "%s.label_type = %d: use GRPO4J_I32 or GRPO4J_I64", what, tk->label_type);
  // rows * seq_len * vocab * 4 bytes must fit in int64.
  const double elements = (double)tk->rows * (double)tk->seq_len * (double)tk->vocab;
  if (elements * 4.0 >= 9.2e18)
    return fail(GRPO4J_INVALID_ARGUMENT, "%s: rows * seq_len * vocab = %.3g elements is too large", what, elements);
  return GRPO4J_OK;
}

grpo4j_status validate_options(const grpo4j_options* o) {
  if (!o) return fail(GRPO4J_INVALID_ARGUMENT, "options is NULL");
  if (!(o->beta > 0) || !isfinite(o->beta))
    return fail(GRPO4J_INVALID_ARGUMENT, "options.beta = %g: must be finite and > 0", o->beta);
  if (!(o->label_smoothing >= 0 && o->label_smoothing < 0.5))
    return fail(GRPO4J_INVALID_ARGUMENT, "options.label_smoothing = %g: must be in [0, 0.5)", o->label_smoothing);
  if (!(o->eta >= 0) || !isfinite(o->eta))
    return fail(GRPO4J_INVALID_ARGUMENT, "options.eta = %g: must be finite and >= 0", o->eta);
  if (!(o->chi >= 0 && o->chi <= 1))
    return fail(GRPO4J_INVALID_ARGUMENT, "options.chi = %g: must be in [0, 1]", o->chi);
  if (!isfinite(o->adjustment) || o->adjustment < 0)
    return fail(GRPO4J_INVALID_ARGUMENT, "options.adjustment = %g: must be finite and >= 0", o->adjustment);
  if (o->num_terms < 0 || o->num_terms > GRPO4J_MAX_LOSS_TERMS)
    return fail(GRPO4J_INVALID_ARGUMENT, "options.num_terms = %d: must be in [0, %d]", o->num_terms,
                GRPO4J_MAX_LOSS_TERMS);
  if (o->num_terms == 0 && loss_flags(o->loss_type) < 0)
    return fail(GRPO4J_INVALID_ARGUMENT, "options.loss_type = %d: not a loss code of the table (grpo4j_loss_info)",
                o->loss_type);
  for (int t = 0; t < o->num_terms; ++t) {
    if (loss_flags(o->term_types[t]) < 0)
      return fail(GRPO4J_INVALID_ARGUMENT,
                  "options.term_types[%d] = %d: not a loss code of the table (grpo4j_loss_info)", t,
                  o->term_types[t]);
    if (!isfinite(o->term_weights[t]))
      return fail(GRPO4J_INVALID_ARGUMENT, "options.term_weights[%d] = %g: must be finite", t, o->term_weights[t]);
  }
  if (o->f_divergence < GRPO4J_REVERSE_KL || o->f_divergence > GRPO4J_ALPHA_DIVERGENCE)
    return fail(GRPO4J_INVALID_ARGUMENT, "options.f_divergence = %d: use a grpo4j_f_divergence value",
                o->f_divergence);
  if (o->f_divergence == GRPO4J_ALPHA_DIVERGENCE && !isfinite(o->f_alpha))
    return fail(GRPO4J_INVALID_ARGUMENT, "options.f_alpha = %g: must be finite", o->f_alpha);
  for (int t = 0; t < term_count(*o); ++t) {
    const int32_t code = term_code(*o, t), flags = loss_flags(code);
    const char* name = loss_name(code);
    if (o->f_divergence != GRPO4J_REVERSE_KL && !(flags & GRPO4J_LOSS_F_DIVERGENCE))
      return fail(GRPO4J_INVALID_ARGUMENT,
                  "loss %s reads the log-ratios themselves, so it takes no f-divergence: use GRPO4J_REVERSE_KL "
                  "(options.f_divergence = %d)",
                  name, o->f_divergence);
    if ((flags & GRPO4J_LOSS_NEEDS_SMOOTHING) && !(o->label_smoothing > 0))
      return fail(GRPO4J_INVALID_ARGUMENT,
                  "loss %s takes log(label_smoothing): options.label_smoothing must be > 0 (EXO suggests 1e-3)", name);
    if ((flags & GRPO4J_LOSS_TAU) && !(o->discopop_tau > 0 && isfinite(o->discopop_tau)))
      return fail(GRPO4J_INVALID_ARGUMENT, "options.discopop_tau = %g: loss %s needs a finite tau > 0 (TRL: 0.05)",
                  o->discopop_tau, name);
    if ((flags & GRPO4J_LOSS_GAMMA) && !isfinite(o->simpo_gamma))
      return fail(GRPO4J_INVALID_ARGUMENT, "options.simpo_gamma = %g: must be finite", o->simpo_gamma);
  }
  if (o->weighting < GRPO4J_WEIGHTING_ROBUST || o->weighting > GRPO4J_WEIGHTING_AVERAGE)
    return fail(GRPO4J_INVALID_ARGUMENT, "options.weighting = %d: use a grpo4j_weighting value", o->weighting);
  if (o->group_norm != GRPO4J_NORM_BATCH_MEAN && o->group_norm != GRPO4J_NORM_DATASET_FREQUENCY)
    return fail(GRPO4J_INVALID_ARGUMENT, "options.group_norm = %d: use a grpo4j_group_norm value", o->group_norm);
  if (o->ipo_length_norm != 0 && o->ipo_length_norm != 1)
    return fail(GRPO4J_INVALID_ARGUMENT, "options.ipo_length_norm = %d: must be 0 or 1", o->ipo_length_norm);
  return GRPO4J_OK;
}

// The pairs without their tokens: pair and group counts, reference log-probs, group ids.
grpo4j_status validate_pairs(const grpo4j_batch* b) {
  if (!b) return fail(GRPO4J_INVALID_ARGUMENT, "batch is NULL");
  if (b->num_pairs < 1)
    return fail(GRPO4J_INVALID_ARGUMENT, "batch.num_pairs = %lld: must be >= 1", (long long)b->num_pairs);
  if (b->num_groups < 1) return fail(GRPO4J_INVALID_ARGUMENT, "batch.num_groups = %d: must be >= 1", b->num_groups);
  if (!b->ref_logps) return fail(GRPO4J_INVALID_ARGUMENT, "batch.ref_logps is NULL: pass [2B] reference log-probs");
  if (!b->group_ids) return fail(GRPO4J_INVALID_ARGUMENT, "batch.group_ids is NULL: pass [B] group ids");
  return GRPO4J_OK;
}

// What every phase that reads the batch's pairs needs: tokens, pair count, reference log-probs, group ids.
grpo4j_status validate_batch_inputs(const grpo4j_batch* b) {
  if (!b) return fail(GRPO4J_INVALID_ARGUMENT, "batch is NULL");
  grpo4j_status status = validate_tokens(&b->tokens, "batch.tokens");
  if (status != GRPO4J_OK) return status;
  if (b->num_pairs >= 1 && b->tokens.rows != 2 * b->num_pairs)
    return fail(GRPO4J_INVALID_ARGUMENT,
                "batch.tokens.rows = %lld but num_pairs = %lld: the logits must hold 2 * num_pairs rows "
                "(chosen rows, then rejected rows)",
                (long long)b->tokens.rows, (long long)b->num_pairs);
  return validate_pairs(b);
}

// What the group step needs beyond the statistics: the weight state and the group sizes the options use.
grpo4j_status validate_group_state(const grpo4j_options& o, const grpo4j_batch& b) {
  if (!b.log_alpha && o.weighting == GRPO4J_WEIGHTING_ROBUST)
    return fail(GRPO4J_INVALID_ARGUMENT, "batch.log_alpha is NULL: ROBUST weighting needs the [K] weight state");
  if (!b.group_sizes && needs_group_sizes(o))
    return fail(GRPO4J_INVALID_ARGUMENT,
                "batch.group_sizes is NULL: DATASET_FREQUENCY, IMPORTANCE_SAMPLING and adjustment need N_g");
  return GRPO4J_OK;
}

grpo4j_status validate_batch(const grpo4j_options& o, const grpo4j_batch* b, bool train) {
  grpo4j_status status = validate_batch_inputs(b);
  if (status == GRPO4J_OK) status = validate_group_state(o, *b);
  if (status != GRPO4J_OK) return status;
  if (train && !b->grad) return fail(GRPO4J_INVALID_ARGUMENT, "batch.grad is NULL: pass a gradient buffer");
  return GRPO4J_OK;
}

int resolve_threads(int requested) {
  return requested > 0 ? requested : grpo4j_cpu_default_threads();
}

template <typename F>
grpo4j_status guarded(F&& body) {
  try {
    clear_error();
    return body();
  } catch (const std::bad_alloc&) {
    return fail(GRPO4J_OUT_OF_MEMORY, "out of host memory");
  } catch (const std::exception& e) {
    return fail(GRPO4J_INTERNAL_ERROR, "internal error: %s", e.what());
  } catch (...) {
    return fail(GRPO4J_INTERNAL_ERROR, "internal error: unknown exception");
  }
}

grpo4j_status validate_exec(const grpo4j_exec* exec) {
  if (!exec) return fail(GRPO4J_INVALID_ARGUMENT, "exec is NULL");
  if (exec->backend < GRPO4J_BACKEND_CPU || exec->backend > GRPO4J_BACKEND_REFERENCE)
    return fail(GRPO4J_INVALID_ARGUMENT, "exec.backend = %d: use a grpo4j_backend value", exec->backend);
  return GRPO4J_OK;
}

grpo4j_status run_loss(const grpo4j_options* options, const grpo4j_batch* batch, const grpo4j_exec* exec,
                       bool train) {
  return guarded([&]() -> grpo4j_status {
    grpo4j_status status = validate_options(options);
    if (status == GRPO4J_OK) status = validate_exec(exec);
    if (status == GRPO4J_OK) status = validate_batch(*options, batch, train);
    if (status != GRPO4J_OK) return status;
    if (exec->backend == GRPO4J_BACKEND_CUDA) return cuda_loss(*options, *batch, train, exec->stream);
    if (batch->out.flags) *batch->out.flags = 0;
    status = check_host_groups(*options, *batch);
    if (status != GRPO4J_OK) return status;
    if (exec->backend == GRPO4J_BACKEND_REFERENCE) return reference_loss(*options, *batch, train);
    return cpu_loss(*options, *batch, train, resolve_threads(exec->num_threads));
  });
}

// The group-statistics table handed to grpo4j_group_step: counts are whole and not negative, sums finite, and
// the batch has at least one pair.
grpo4j_status validate_group_stats(const double* stats, int32_t num_groups) {
  if (!stats) return fail(GRPO4J_INVALID_ARGUMENT, "group_stats is NULL: pass the [K][GRPO4J_GROUP_STATS] sums");
  double pairs = 0.0;
  for (int g = 0; g < num_groups; ++g) {
    const double* row = stats + (int64_t)g * GRPO4J_GROUP_STATS;
    for (int c = 0; c < GRPO4J_GROUP_STATS; ++c)
      if (!isfinite(row[c]))
        return fail(GRPO4J_NON_FINITE_INPUT, "group_stats[%d][%d] = %g: group statistics must be finite", g, c,
                    row[c]);
    const double n = row[GRPO4J_STAT_PAIRS];
    if (n < 0 || n != floor(n) || n > 2147483647.0)
      return fail(GRPO4J_INVALID_ARGUMENT,
                  "group_stats[%d][GRPO4J_STAT_PAIRS] = %g: a pair count must be a whole number in [0, 2^31)", g, n);
    pairs += n;
  }
  if (pairs < 1)
    return fail(GRPO4J_INVALID_ARGUMENT, "group_stats count no pairs: a group step needs at least one pair");
  return GRPO4J_OK;
}

}  // namespace

void clear_error() { last_message[0] = '\0'; }

grpo4j_status fail(grpo4j_status status, const char* format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(last_message, sizeof last_message, format, args);
  va_end(args);
  return status;
}

grpo4j_status check_host_group_ids(const grpo4j_batch& b) {
  for (int64_t i = 0; i < b.num_pairs; ++i) {
    if (b.group_ids[i] < 0 || b.group_ids[i] >= b.num_groups) {
      if (b.out.flags) *b.out.flags |= GRPO4J_FLAG_GROUP_RANGE;
      return fail(GRPO4J_INVALID_ARGUMENT, "group_ids[%lld] = %d is outside [0, K = %d)", (long long)i,
                  b.group_ids[i], b.num_groups);
    }
  }
  return GRPO4J_OK;
}

grpo4j_status check_host_inputs(const grpo4j_batch& b) {
  grpo4j_status status = check_host_group_ids(b);
  if (status != GRPO4J_OK) return status;
  for (int64_t r = 0; r < 2 * b.num_pairs; ++r) {
    if (!isfinite(b.ref_logps[r]))
      return fail(GRPO4J_NON_FINITE_INPUT, "ref_logps[%lld] = %g: reference log-probs must be finite", (long long)r,
                  (double)b.ref_logps[r]);
  }
  return GRPO4J_OK;
}

grpo4j_status check_host_group_state(const grpo4j_options& o, const grpo4j_batch& b) {
  if (needs_group_sizes(o)) {
    for (int g = 0; g < b.num_groups; ++g) {
      if (b.group_sizes[g] < 1) {
        if (b.out.flags) *b.out.flags |= GRPO4J_FLAG_GROUP_SIZE;
        return fail(GRPO4J_INVALID_ARGUMENT,
                    "group_sizes[%d] = %lld: every group needs N_g >= 1 training pairs for this weighting or "
                    "normalisation",
                    g, (long long)b.group_sizes[g]);
      }
    }
  }
  if (b.log_alpha && o.weighting == GRPO4J_WEIGHTING_ROBUST) {
    for (int g = 0; g < b.num_groups; ++g)
      if (!isfinite(b.log_alpha[g]))
        return fail(GRPO4J_INVALID_ARGUMENT, "log_alpha[%d] = %g: the group-weight state must be finite", g,
                    b.log_alpha[g]);
  }
  return GRPO4J_OK;
}

grpo4j_status check_host_groups(const grpo4j_options& o, const grpo4j_batch& b) {
  grpo4j_status status = check_host_inputs(b);
  return status == GRPO4J_OK ? check_host_group_state(o, b) : status;
}

grpo4j_status token_flag_error(int32_t flag, const grpo4j_tokens& tk, int64_t position) {
  const long long row = (long long)(position / tk.seq_len), t = (long long)(position % tk.seq_len);
  const long long label = (long long)load_label(tk.labels, tk.label_type, position);
  if (flag == GRPO4J_FLAG_LABEL_RANGE)
    return fail(GRPO4J_INVALID_ARGUMENT, "labels[%lld][%lld] = %lld is outside [0, V = %lld) and is not -100", row, t,
                label, (long long)tk.vocab);
  return fail(GRPO4J_NON_FINITE_INPUT,
              "logits[%lld][%lld] (%s) contain NaN or infinity: the log-softmax at that labelled position is not "
              "finite",
              row, t, float_type_name(tk.logits_type));
}

}  // namespace grpo4j

using namespace grpo4j;

extern "C" {

grpo4j_status grpo4j_loss_forward_backward(const grpo4j_options* options, const grpo4j_batch* batch,
                                           const grpo4j_exec* exec) {
  return run_loss(options, batch, exec, true);
}

grpo4j_status grpo4j_loss_forward(const grpo4j_options* options, const grpo4j_batch* batch, const grpo4j_exec* exec) {
  return run_loss(options, batch, exec, false);
}

grpo4j_status grpo4j_sequence_logprobs(const grpo4j_tokens* tokens, float* logps, int32_t* token_counts,
                                       int32_t* flags, const grpo4j_exec* exec) {
  return guarded([&]() -> grpo4j_status {
    grpo4j_status status = validate_exec(exec);
    if (status == GRPO4J_OK) status = validate_tokens(tokens, "tokens");
    if (status != GRPO4J_OK) return status;
    if (!logps) return fail(GRPO4J_INVALID_ARGUMENT, "logps is NULL: pass a [rows] float buffer");
    if (exec->backend == GRPO4J_BACKEND_CUDA)
      return cuda_sequence_logprobs(*tokens, logps, token_counts, flags, exec->stream);
    if (exec->backend == GRPO4J_BACKEND_REFERENCE)
      return reference_sequence_logprobs(*tokens, logps, token_counts, flags);
    return cpu_sequence_logprobs(*tokens, logps, token_counts, flags, resolve_threads(exec->num_threads));
  });
}

int64_t grpo4j_workspace_bytes(int64_t rows, int64_t seq_len) {
  if (rows < 1 || seq_len < 1) return 0;
  return workspace_bytes(rows, seq_len);
}

grpo4j_status grpo4j_loss_statistics(const grpo4j_options* options, const grpo4j_batch* batch, double* group_stats,
                                     void* workspace, const grpo4j_exec* exec) {
  return guarded([&]() -> grpo4j_status {
    grpo4j_status status = validate_options(options);
    if (status == GRPO4J_OK) status = validate_exec(exec);
    if (status == GRPO4J_OK) status = validate_batch_inputs(batch);
    if (status != GRPO4J_OK) return status;
    if (!group_stats)
      return fail(GRPO4J_INVALID_ARGUMENT, "group_stats is NULL: pass [K][GRPO4J_GROUP_STATS] doubles");
    if (!workspace) return fail(GRPO4J_INVALID_ARGUMENT, "workspace is NULL: pass grpo4j_workspace_bytes bytes");
    if (exec->backend == GRPO4J_BACKEND_CUDA)
      return cuda_loss_statistics(*options, *batch, group_stats, workspace, exec->stream);
    if (batch->out.flags) *batch->out.flags = 0;
    status = check_host_inputs(*batch);
    if (status != GRPO4J_OK) return status;
    if (exec->backend == GRPO4J_BACKEND_REFERENCE)
      return reference_loss_statistics(*options, *batch, group_stats, workspace);
    return cpu_loss_statistics(*options, *batch, group_stats, workspace, resolve_threads(exec->num_threads));
  });
}

grpo4j_status grpo4j_group_step(const grpo4j_options* options, const grpo4j_batch* batch, const double* group_stats,
                                int32_t update_weights, double* group_coef, const grpo4j_exec* exec) {
  return guarded([&]() -> grpo4j_status {
    grpo4j_status status = validate_options(options);
    if (status == GRPO4J_OK) status = validate_exec(exec);
    if (status != GRPO4J_OK) return status;
    if (!batch) return fail(GRPO4J_INVALID_ARGUMENT, "batch is NULL");
    if (batch->num_groups < 1)
      return fail(GRPO4J_INVALID_ARGUMENT, "batch.num_groups = %d: must be >= 1", batch->num_groups);
    status = validate_group_state(*options, *batch);
    if (status != GRPO4J_OK) return status;
    if (exec->backend == GRPO4J_BACKEND_CUDA) {
      if (!group_stats)
        return fail(GRPO4J_INVALID_ARGUMENT, "group_stats is NULL: pass the [K][GRPO4J_GROUP_STATS] sums");
      return cuda_group_step(*options, *batch, group_stats, update_weights != 0, group_coef, exec->stream);
    }
    status = validate_group_stats(group_stats, batch->num_groups);
    if (status == GRPO4J_OK) status = check_host_group_state(*options, *batch);
    if (status != GRPO4J_OK) return status;
    if (exec->backend == GRPO4J_BACKEND_REFERENCE)
      return reference_group_step(*options, *batch, group_stats, update_weights != 0, group_coef);
    return cpu_group_step(*options, *batch, group_stats, update_weights != 0, group_coef);
  });
}

grpo4j_status grpo4j_logits_gradient(const grpo4j_batch* batch, const void* workspace, const double* group_coef,
                                     const grpo4j_exec* exec) {
  return guarded([&]() -> grpo4j_status {
    grpo4j_status status = validate_exec(exec);
    if (status == GRPO4J_OK) status = validate_batch_inputs(batch);
    if (status != GRPO4J_OK) return status;
    if (!batch->grad) return fail(GRPO4J_INVALID_ARGUMENT, "batch.grad is NULL: pass a gradient buffer");
    if (!workspace)
      return fail(GRPO4J_INVALID_ARGUMENT, "workspace is NULL: pass the one grpo4j_loss_statistics filled");
    if (!group_coef)
      return fail(GRPO4J_INVALID_ARGUMENT, "group_coef is NULL: pass the [K] coefficients grpo4j_group_step wrote");
    if (exec->backend == GRPO4J_BACKEND_CUDA) return cuda_logits_gradient(*batch, workspace, group_coef, exec->stream);
    // Phase 3 reads the group ids, not the reference log-probs (phase 1 checked those).
    status = check_host_group_ids(*batch);
    if (status != GRPO4J_OK) return status;
    for (int g = 0; g < batch->num_groups; ++g)
      if (!isfinite(group_coef[g]))
        return fail(GRPO4J_NON_FINITE_INPUT, "group_coef[%d] = %g: must be finite", g, group_coef[g]);
    if (exec->backend == GRPO4J_BACKEND_REFERENCE) return reference_logits_gradient(*batch, workspace, group_coef);
    return cpu_logits_gradient(*batch, workspace, group_coef, resolve_threads(exec->num_threads));
  });
}

grpo4j_status grpo4j_sequence_statistics(const grpo4j_options* options, const grpo4j_batch* batch, const float* logps,
                                         const int32_t* token_counts, double* group_stats, double* dloss,
                                         const grpo4j_exec* exec) {
  return guarded([&]() -> grpo4j_status {
    grpo4j_status status = validate_options(options);
    if (status == GRPO4J_OK) status = validate_exec(exec);
    if (status == GRPO4J_OK) status = validate_pairs(batch);
    if (status != GRPO4J_OK) return status;
    if (!logps) return fail(GRPO4J_INVALID_ARGUMENT, "logps is NULL: pass the [2B] sequence log-probs");
    if (!group_stats)
      return fail(GRPO4J_INVALID_ARGUMENT, "group_stats is NULL: pass [K][GRPO4J_GROUP_STATS] doubles");
    if (!dloss) return fail(GRPO4J_INVALID_ARGUMENT, "dloss is NULL: pass [2B] doubles for dl/ds");
    if (exec->backend == GRPO4J_BACKEND_CUDA)
      return cuda_sequence_statistics(*options, *batch, logps, token_counts, group_stats, dloss, exec->stream);
    if (batch->out.flags) *batch->out.flags = 0;
    status = check_host_inputs(*batch);
    if (status != GRPO4J_OK) return status;
    for (int64_t r = 0; r < 2 * batch->num_pairs; ++r) {
      if (!isfinite(logps[r])) {
        if (batch->out.flags) *batch->out.flags |= GRPO4J_FLAG_NON_FINITE;
        return fail(GRPO4J_NON_FINITE_INPUT, "logps[%lld] = %g: sequence log-probs must be finite", (long long)r,
                    (double)logps[r]);
      }
      if (token_counts && token_counts[r] < 0)
        return fail(GRPO4J_INVALID_ARGUMENT, "token_counts[%lld] = %d: must be >= 0", (long long)r, token_counts[r]);
    }
    if (exec->backend == GRPO4J_BACKEND_REFERENCE)
      return reference_sequence_statistics(*options, *batch, logps, token_counts, group_stats, dloss);
    return cpu_sequence_statistics(*options, *batch, logps, token_counts, group_stats, dloss);
  });
}

grpo4j_status grpo4j_sequence_gradient(const grpo4j_batch* batch, const double* dloss, const double* group_coef,
                                       float* row_coef, const grpo4j_exec* exec) {
  return guarded([&]() -> grpo4j_status {
    grpo4j_status status = validate_exec(exec);
    if (status != GRPO4J_OK) return status;
    if (!batch) return fail(GRPO4J_INVALID_ARGUMENT, "batch is NULL");
    if (batch->num_pairs < 1)
      return fail(GRPO4J_INVALID_ARGUMENT, "batch.num_pairs = %lld: must be >= 1", (long long)batch->num_pairs);
    if (batch->num_groups < 1)
      return fail(GRPO4J_INVALID_ARGUMENT, "batch.num_groups = %d: must be >= 1", batch->num_groups);
    if (!batch->group_ids) return fail(GRPO4J_INVALID_ARGUMENT, "batch.group_ids is NULL: pass [B] group ids");
    if (!dloss) return fail(GRPO4J_INVALID_ARGUMENT, "dloss is NULL: pass the one grpo4j_sequence_statistics wrote");
    if (!group_coef)
      return fail(GRPO4J_INVALID_ARGUMENT, "group_coef is NULL: pass the [K] coefficients grpo4j_group_step wrote");
    if (!row_coef) return fail(GRPO4J_INVALID_ARGUMENT, "row_coef is NULL: pass a [2B] float buffer");
    if (exec->backend == GRPO4J_BACKEND_CUDA)
      return cuda_sequence_gradient(*batch, dloss, group_coef, row_coef, exec->stream);
    status = check_host_group_ids(*batch);
    if (status != GRPO4J_OK) return status;
    for (int g = 0; g < batch->num_groups; ++g)
      if (!isfinite(group_coef[g]))
        return fail(GRPO4J_NON_FINITE_INPUT, "group_coef[%d] = %g: must be finite", g, group_coef[g]);
    return host_sequence_gradient(*batch, dloss, group_coef, row_coef);
  });
}

grpo4j_status grpo4j_token_logprobs(const grpo4j_tokens* tokens, void* stats, float* logps, int32_t* flags,
                                    const grpo4j_exec* exec) {
  return guarded([&]() -> grpo4j_status {
    grpo4j_status status = validate_exec(exec);
    if (status == GRPO4J_OK) status = validate_tokens(tokens, "tokens");
    if (status != GRPO4J_OK) return status;
    if (!stats) return fail(GRPO4J_INVALID_ARGUMENT, "stats is NULL: pass 8 bytes per position");
    if (!logps) return fail(GRPO4J_INVALID_ARGUMENT, "logps is NULL: pass a float per position");
    if (exec->backend == GRPO4J_BACKEND_CUDA) return cuda_token_logprobs(*tokens, stats, logps, flags, exec->stream);
    if (exec->backend == GRPO4J_BACKEND_REFERENCE) return reference_token_logprobs(*tokens, stats, logps, flags);
    return cpu_token_logprobs(*tokens, stats, logps, flags, resolve_threads(exec->num_threads));
  });
}

grpo4j_status grpo4j_token_gradient(const grpo4j_tokens* tokens, const void* stats, const float* coef, void* grad,
                                    const grpo4j_exec* exec) {
  return guarded([&]() -> grpo4j_status {
    grpo4j_status status = validate_exec(exec);
    if (status == GRPO4J_OK) status = validate_tokens(tokens, "tokens");
    if (status != GRPO4J_OK) return status;
    if (!stats) return fail(GRPO4J_INVALID_ARGUMENT, "stats is NULL: pass the ones grpo4j_token_logprobs wrote");
    if (!coef) return fail(GRPO4J_INVALID_ARGUMENT, "coef is NULL: pass a float per position");
    if (!grad) return fail(GRPO4J_INVALID_ARGUMENT, "grad is NULL: pass a gradient buffer");
    if (exec->backend == GRPO4J_BACKEND_CUDA) return cuda_token_gradient(*tokens, stats, coef, grad, exec->stream);
    const int64_t positions = tokens->rows * tokens->seq_len;
    for (int64_t p = 0; p < positions; ++p) {
      if (!isfinite(coef[p]))
        return fail(GRPO4J_NON_FINITE_INPUT, "coef[%lld] = %g: must be finite", (long long)p, (double)coef[p]);
      if (tokens->logits_type == GRPO4J_F16 && !(fabs(coef[p]) < 65504.0f))
        return fail(GRPO4J_INVALID_ARGUMENT,
                    "coef[%lld] = %g reaches f16's largest value 65504: dJ/dlogits would be written as infinity; use "
                    "bf16 or f32 logits",
                    (long long)p, (double)coef[p]);
    }
    if (exec->backend == GRPO4J_BACKEND_REFERENCE) return reference_token_gradient(*tokens, stats, coef, grad);
    return cpu_token_gradient(*tokens, stats, coef, grad, resolve_threads(exec->num_threads));
  });
}

int32_t grpo4j_loss_count(void) { return (int32_t)grpo4j::loss_table().size(); }

grpo4j_status grpo4j_loss_info_at(int32_t index, grpo4j_loss_info* info) {
  return guarded([&]() -> grpo4j_status {
    const auto& table = grpo4j::loss_table();
    if (!info) return fail(GRPO4J_INVALID_ARGUMENT, "info is NULL");
    if (index < 0 || index >= (int32_t)table.size())
      return fail(GRPO4J_INVALID_ARGUMENT, "index = %d: the table has %d losses", index, (int32_t)table.size());
    info->name = table[index].name;
    info->formula = table[index].formula;
    info->code = table[index].code;
    info->flags = table[index].flags;
    return GRPO4J_OK;
  });
}

const char* grpo4j_last_error(void) { return last_message; }

int32_t grpo4j_abi_version(void) { return GRPO4J_ABI_VERSION; }

#define GRPO4J_SIZE(S) #S ".size=" + std::to_string(sizeof(S)) + ";"
#define GRPO4J_FIELD(S, F) #S "." #F "=" + std::to_string(offsetof(S, F)) + ";"

const char* grpo4j_abi_layout(void) {
  // Built once; a bad_alloc here (a few hundred bytes at load time) ends as an empty layout, which the binding
  // reports as a mismatch rather than a crash.
  static const std::string layout = []() noexcept {
    try {
      return std::string() + GRPO4J_SIZE(grpo4j_tokens) + GRPO4J_FIELD(grpo4j_tokens, logits) +
             GRPO4J_FIELD(grpo4j_tokens, labels) + GRPO4J_FIELD(grpo4j_tokens, rows) +
             GRPO4J_FIELD(grpo4j_tokens, seq_len) + GRPO4J_FIELD(grpo4j_tokens, vocab) +
             GRPO4J_FIELD(grpo4j_tokens, logits_type) + GRPO4J_FIELD(grpo4j_tokens, label_type) +
             GRPO4J_SIZE(grpo4j_options) + GRPO4J_FIELD(grpo4j_options, beta) +
             GRPO4J_FIELD(grpo4j_options, label_smoothing) + GRPO4J_FIELD(grpo4j_options, eta) +
             GRPO4J_FIELD(grpo4j_options, chi) + GRPO4J_FIELD(grpo4j_options, adjustment) +
             GRPO4J_FIELD(grpo4j_options, loss_type) + GRPO4J_FIELD(grpo4j_options, weighting) +
             GRPO4J_FIELD(grpo4j_options, group_norm) + GRPO4J_FIELD(grpo4j_options, ipo_length_norm) +
             GRPO4J_FIELD(grpo4j_options, f_divergence) + GRPO4J_FIELD(grpo4j_options, num_terms) +
             GRPO4J_FIELD(grpo4j_options, f_alpha) + GRPO4J_FIELD(grpo4j_options, discopop_tau) +
             GRPO4J_FIELD(grpo4j_options, simpo_gamma) + GRPO4J_FIELD(grpo4j_options, term_weights) +
             GRPO4J_FIELD(grpo4j_options, term_types) +
             GRPO4J_SIZE(grpo4j_outputs) + GRPO4J_FIELD(grpo4j_outputs, loss) +
             GRPO4J_FIELD(grpo4j_outputs, pair_loss) + GRPO4J_FIELD(grpo4j_outputs, pair_margin) +
             GRPO4J_FIELD(grpo4j_outputs, pair_chosen_reward) + GRPO4J_FIELD(grpo4j_outputs, pair_rejected_reward) +
             GRPO4J_FIELD(grpo4j_outputs, pair_chosen_logp) + GRPO4J_FIELD(grpo4j_outputs, pair_rejected_logp) +
             GRPO4J_FIELD(grpo4j_outputs, group_loss) + GRPO4J_FIELD(grpo4j_outputs, group_weight) +
             GRPO4J_FIELD(grpo4j_outputs, group_reward_accuracy) +
             GRPO4J_FIELD(grpo4j_outputs, group_logp_accuracy) +
             GRPO4J_FIELD(grpo4j_outputs, group_chosen_reward) +
             GRPO4J_FIELD(grpo4j_outputs, group_rejected_reward) + GRPO4J_FIELD(grpo4j_outputs, group_margin) +
             GRPO4J_FIELD(grpo4j_outputs, group_count) + GRPO4J_FIELD(grpo4j_outputs, flags) +
             GRPO4J_SIZE(grpo4j_batch) + GRPO4J_FIELD(grpo4j_batch, tokens) + GRPO4J_FIELD(grpo4j_batch, ref_logps) +
             GRPO4J_FIELD(grpo4j_batch, group_ids) + GRPO4J_FIELD(grpo4j_batch, group_sizes) +
             GRPO4J_FIELD(grpo4j_batch, log_alpha) + GRPO4J_FIELD(grpo4j_batch, grad) +
             GRPO4J_FIELD(grpo4j_batch, num_pairs) + GRPO4J_FIELD(grpo4j_batch, num_groups) +
             GRPO4J_FIELD(grpo4j_batch, reserved) + GRPO4J_FIELD(grpo4j_batch, out) + GRPO4J_SIZE(grpo4j_exec) +
             GRPO4J_FIELD(grpo4j_exec, stream) + GRPO4J_FIELD(grpo4j_exec, backend) +
             GRPO4J_FIELD(grpo4j_exec, num_threads);
    } catch (...) {
      return std::string();
    }
  }();
  return layout.c_str();
}

#undef GRPO4J_SIZE
#undef GRPO4J_FIELD

int32_t grpo4j_cpu_default_threads(void) {
  // hardware_concurrency() reads /sys on every call (~6 us): once per process is enough.
  static const int32_t threads = []() {
    unsigned n = std::thread::hardware_concurrency();
    return n > 0 ? (int32_t)n : 1;
  }();
  return threads;
}

}  // extern "C"
