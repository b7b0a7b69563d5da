// One pair's loss l_i and its derivatives dl_i/ds_w, dl_i/ds_l in the pair's two sequence log-probs, for every loss of
// the table and for weighted mixtures of them (TRL's list of loss types with loss_weights):
//   x_w = s_w - ref_w, x_l = s_l - ref_l             (log-ratios)
//   score = f(x) by the f-divergence (reverse KL: x), dscore/dx = f'(x)
//   l_i = sum_t weight_t * loss_t(pair),  dl_i/ds_w = sum_t weight_t * (dloss_t/dscore_w * f'(x_w) + dloss_t/ds_w)
// Each loss is one file in losses/, whose last line registers it (GRPO4J_LOSS(code, name, flags, formula)); CMake
// collects the files into loss_registry.inc, which the table below expands. The CPU backend and the CUDA kernels call
// the same functions; the reference backend keeps its own copy of every formula (reference_pair_losses.cpp).
#ifndef GRPO4J_PAIR_LOSS_H
#define GRPO4J_PAIR_LOSS_H

#include <math.h>

#include "internal.h"

namespace grpo4j {

// log(1 + exp(x)) without overflow.
GRPO4J_HD double softplus(double x) { return (x > 0 ? x : 0.0) + log1p(exp(-fabs(x))); }

GRPO4J_HD double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + exp(-x));
  double e = exp(x);
  return e / (1.0 + e);
}

struct LossParams {
  double beta;
  double label_smoothing;
  double discopop_tau;
  double simpo_gamma;
  int32_t ipo_length_norm;
};

// What a loss may read of one pair. The scores are f(x); the *_at_rank values are the sorting losses' partners within
// the pair's group in this call (0 for the other losses).
struct PairInput {
  double chosen_logp, rejected_logp;    // s_w, s_l
  double chosen_ratio, rejected_ratio;  // x_w, x_l
  double chosen_score, rejected_score;  // f(x_w), f(x_l)
  double chosen_tokens, rejected_tokens;  // response tokens, at least 1
  double ref_margin_at_rank;      // the ref margins (ref_w - ref_l) sorted, at the rank of this pair's s_w - s_l
  double rejected_ratio_at_rank;  // the x_l sorted, at the rank of this pair's x_w
  double chosen_ratio_at_rank;    // the x_w sorted, at the rank of this pair's x_l
};

// A loss's value and its derivatives: through the scores (chained with f' by pair_terms) and straight in the
// log-probs (for the losses that read log-probs or raw log-ratios).
struct LossTerms {
  double loss;
  double d_chosen_score, d_rejected_score;
  double d_chosen_logp, d_rejected_logp;
};

GRPO4J_HD LossTerms no_terms() {
  LossTerms t;
  t.loss = 0.0;
  t.d_chosen_score = 0.0;
  t.d_rejected_score = 0.0;
  t.d_chosen_logp = 0.0;
  t.d_rejected_logp = 0.0;
  return t;
}

}  // namespace grpo4j

// Each loss file once, for its function (the registration lines expand to nothing here).
#define GRPO4J_LOSS(code, name, flags, formula)
#include "loss_registry.inc"
#undef GRPO4J_LOSS

namespace grpo4j {

// The GRPO4J_LOSS_* flags of a loss code; -1 for a code the table does not have.
GRPO4J_HD int32_t loss_flags(int32_t code) {
  switch (code) {
#define GRPO4J_LOSS(code, name, flags, formula) \
  case code:                                    \
    return flags;
#include "loss_registry.inc"
#undef GRPO4J_LOSS
    default:
      return -1;
  }
}

GRPO4J_HD LossTerms loss_terms(int32_t code, const LossParams& p, const PairInput& in) {
  switch (code) {
#define GRPO4J_LOSS(code, name, flags, formula) \
  case code:                                    \
    return loss_##name(p, in);
#include "loss_registry.inc"
#undef GRPO4J_LOSS
    default:
      return no_terms();
  }
}

GRPO4J_HD int32_t term_count(const grpo4j_options& o) { return o.num_terms > 0 ? o.num_terms : 1; }
GRPO4J_HD int32_t term_code(const grpo4j_options& o, int t) { return o.num_terms > 0 ? o.term_types[t] : o.loss_type; }
GRPO4J_HD double term_weight(const grpo4j_options& o, int t) { return o.num_terms > 0 ? o.term_weights[t] : 1.0; }

// The union of the flags of the options' loss terms (validated codes).
GRPO4J_HD int32_t options_loss_flags(const grpo4j_options& o) {
  int32_t flags = 0;
  for (int t = 0; t < term_count(o); ++t) flags |= loss_flags(term_code(o, t));
  return flags;
}

// The score f(x) of the options' f-divergence and f'(x).
GRPO4J_HD double f_score(const grpo4j_options& o, double x, double* derivative) {
  switch (o.f_divergence) {
    case GRPO4J_FORWARD_KL: {
      const double e = exp(-x);
      *derivative = e;
      return 1.0 - e;
    }
    case GRPO4J_JS_DIVERGENCE:
      *derivative = sigmoid(-x);
      return log(2.0) - softplus(-x);
    case GRPO4J_ALPHA_DIVERGENCE:
      if (fabs(o.f_alpha - 1.0) >= 1e-6) {
        // TRL clamps (a-1) x at 80 in float32 so that exp stays finite; the clamped side has no gradient.
        const double t = (o.f_alpha - 1.0) * x;
        const double e = exp(t < 80.0 ? t : 80.0);
        *derivative = t <= 80.0 ? e : 0.0;
        return (e - 1.0) / (o.f_alpha - 1.0);
      }
      *derivative = 1.0;
      return x;
    default:
      *derivative = 1.0;
      return x;
  }
}

GRPO4J_HD LossParams loss_params(const grpo4j_options& o) {
  LossParams p;
  p.beta = o.beta;
  p.label_smoothing = o.label_smoothing;
  p.discopop_tau = o.discopop_tau;
  p.simpo_gamma = o.simpo_gamma;
  p.ipo_length_norm = o.ipo_length_norm;
  return p;
}

// A call's pairs as the sorting losses read them: row log-probs [2B], reference log-probs [2B], group ids [B].
struct PairRows {
  const double* logp;
  const float* ref;
  const int32_t* group_ids;
  int64_t num_pairs;
};

enum PairKey { kChosenRatio = 0, kRejectedRatio = 1, kRefMargin = 2, kMargin = 3 };

GRPO4J_HD double pair_key(const PairRows& r, int key, int64_t i) {
  const int64_t B = r.num_pairs;
  switch (key) {
    case kChosenRatio:
      return r.logp[i] - (double)r.ref[i];
    case kRejectedRatio:
      return r.logp[B + i] - (double)r.ref[B + i];
    case kRefMargin:
      return (double)r.ref[i] - (double)r.ref[B + i];
    default:
      return r.logp[i] - r.logp[B + i];
  }
}

// Whether pair j comes before pair i when the pairs are ordered by group, then key, then index.
GRPO4J_HD bool sorts_before(const PairRows& r, int key, int64_t j, int64_t i) {
  const int32_t gj = r.group_ids[j], gi = r.group_ids[i];
  if (gj != gi) return gj < gi;
  const double kj = pair_key(r, key, j), ki = pair_key(r, key, i);
  return kj < ki || (kj == ki && j < i);
}

// Pair i's place in that order: its group's first place plus its rank within the group. O(B) by counting (the CUDA
// kernel); the CPU backend sorts instead and gets the same places.
GRPO4J_HD int64_t sorted_position(const PairRows& r, int key, int64_t i) {
  int64_t position = 0;
  for (int64_t j = 0; j < r.num_pairs; ++j)
    if (j != i && sorts_before(r, key, j, i)) ++position;
  return position;
}

// The sorting losses' view of a call: x_w, x_l and the ref margins each in that order ([B] each), and pair i's places
// in the orders of its x_w, its x_l and its margin s_w - s_l.
struct SortedPairs {
  const double* chosen_ratio;
  const double* rejected_ratio;
  const double* ref_margin;
  int64_t chosen_place, rejected_place, margin_place;
};

// Pair i's input; sorted is NULL unless a loss sorts. row_tokens may be NULL (every count 1).
GRPO4J_HD PairInput pair_input(const grpo4j_options& o, const PairRows& r, const int32_t* row_tokens, int64_t i,
                               const SortedPairs* sorted, double* dscore_chosen, double* dscore_rejected) {
  const int64_t B = r.num_pairs;
  PairInput in;
  in.chosen_logp = r.logp[i];
  in.rejected_logp = r.logp[B + i];
  in.chosen_ratio = in.chosen_logp - (double)r.ref[i];
  in.rejected_ratio = in.rejected_logp - (double)r.ref[B + i];
  in.chosen_score = f_score(o, in.chosen_ratio, dscore_chosen);
  in.rejected_score = f_score(o, in.rejected_ratio, dscore_rejected);
  const int32_t nw = row_tokens ? row_tokens[i] : 1, nl = row_tokens ? row_tokens[B + i] : 1;
  in.chosen_tokens = nw > 0 ? (double)nw : 1.0;
  in.rejected_tokens = nl > 0 ? (double)nl : 1.0;
  // A group's places are contiguous in every order, so the k-th of one order within a group sits at the same place
  // as the k-th of another.
  in.ref_margin_at_rank = sorted ? sorted->ref_margin[sorted->margin_place] : 0.0;
  in.rejected_ratio_at_rank = sorted ? sorted->rejected_ratio[sorted->chosen_place] : 0.0;
  in.chosen_ratio_at_rank = sorted ? sorted->chosen_ratio[sorted->rejected_place] : 0.0;
  return in;
}

struct PairTerms {
  double loss;
  double dloss_dchosen;    // d l_i / d s_w
  double dloss_drejected;  // d l_i / d s_l
};

// l_i and dl_i/ds of pair i of the call: the options' loss terms, weighted, on the f-divergence's scores. sorted:
// NULL unless options_loss_flags(o) has GRPO4J_LOSS_SORTS.
GRPO4J_HD PairTerms pair_terms(const grpo4j_options& o, const PairRows& r, const int32_t* row_tokens, int64_t i,
                               const SortedPairs* sorted) {
  double dscore_chosen, dscore_rejected;
  const PairInput in = pair_input(o, r, row_tokens, i, sorted, &dscore_chosen, &dscore_rejected);
  const LossParams p = loss_params(o);
  LossTerms sum = no_terms();
  for (int t = 0; t < term_count(o); ++t) {
    const double w = term_weight(o, t);
    const LossTerms one = loss_terms(term_code(o, t), p, in);
    sum.loss += w * one.loss;
    sum.d_chosen_score += w * one.d_chosen_score;
    sum.d_rejected_score += w * one.d_rejected_score;
    sum.d_chosen_logp += w * one.d_chosen_logp;
    sum.d_rejected_logp += w * one.d_rejected_logp;
  }
  PairTerms result;
  result.loss = sum.loss;
  result.dloss_dchosen = sum.d_chosen_score * dscore_chosen + sum.d_chosen_logp;
  result.dloss_drejected = sum.d_rejected_score * dscore_rejected + sum.d_rejected_logp;
  return result;
}

}  // namespace grpo4j

#endif
