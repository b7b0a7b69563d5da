// Reference backend: every pair loss of the table written out again, plainly, in double: the oracle the shared loss
// files (src/losses/) are tested against. Sorting losses sort each group's pairs with std::stable_sort. A new loss
// adds its case to reference_term below.
#include <math.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "../internal.h"

namespace grpo4j {
namespace {

double ref_softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
double ref_log_sigmoid(double x) { return -ref_softplus(-x); }
double ref_sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

// What one loss term gives for one pair: its value and its derivatives in the two scores and in the two log-probs.
struct Term {
  double loss = 0, d_score_w = 0, d_score_l = 0, d_logp_w = 0, d_logp_l = 0;
};

struct Pair {
  double sw, sl, xw, xl, score_w, score_l, nw, nl;
  double ref_margin_at_rank, xl_at_rank, xw_at_rank;
};

// -(1-eps) log sigmoid(y) - eps log sigmoid(-y) and its derivative in y.
void smoothed_sigmoid(double y, double eps, double* loss, double* derivative) {
  *loss = -(1 - eps) * ref_log_sigmoid(y) - eps * ref_log_sigmoid(-y);
  *derivative = -(1 - eps) * ref_sigmoid(-y) + eps * ref_sigmoid(y);
}

Term reference_term(int32_t code, const grpo4j_options& o, const Pair& p) {
  const double beta = o.beta, eps = o.label_smoothing;
  const double d = p.score_w - p.score_l;
  Term t;
  double dy;
  switch (code) {
    case 0:  // sigmoid
      smoothed_sigmoid(beta * d, eps, &t.loss, &dy);
      t.d_score_w = beta * dy;
      t.d_score_l = -beta * dy;
      break;
    case 1: {  // ipo
      double nw = o.ipo_length_norm ? p.nw : 1, nl = o.ipo_length_norm ? p.nl : 1;
      double e = p.score_w / nw - p.score_l / nl - 1 / (2 * beta);
      t.loss = e * e;
      t.d_score_w = 2 * e / nw;
      t.d_score_l = -2 * e / nl;
      break;
    }
    case 2:  // hinge
      t.loss = std::max(0.0, 1 - beta * d);
      t.d_score_w = 1 - beta * d > 0 ? -beta : 0;
      t.d_score_l = -t.d_score_w;
      break;
    case 3: {  // exo_pair
      double x = beta * d;
      double qw = ref_sigmoid(x), ql = ref_sigmoid(-x);
      t.loss = qw * (ref_log_sigmoid(x) - log(1 - eps)) + ql * (ref_log_sigmoid(-x) - log(eps));
      double dx = qw * ql * (log(eps) - log(1 - eps) + x);
      t.d_score_w = beta * dx;
      t.d_score_l = -beta * dx;
      break;
    }
    case 4:  // nca_pair
      t.loss = -ref_log_sigmoid(beta * p.xw) - 0.5 * ref_log_sigmoid(-beta * p.xw) -
               0.5 * ref_log_sigmoid(-beta * p.xl);
      t.d_logp_w = -beta * ref_sigmoid(-beta * p.xw) + 0.5 * beta * ref_sigmoid(beta * p.xw);
      t.d_logp_l = 0.5 * beta * ref_sigmoid(beta * p.xl);
      break;
    case 5: {  // robust
      double x = beta * d;
      t.loss = (-(1 - eps) * ref_log_sigmoid(x) + eps * ref_log_sigmoid(-x)) / (1 - 2 * eps);
      double dx = (-(1 - eps) * ref_sigmoid(-x) - eps * ref_sigmoid(x)) / (1 - 2 * eps);
      t.d_score_w = beta * dx;
      t.d_score_l = -beta * dx;
      break;
    }
    case 6:  // bco_pair
      t.loss = -ref_log_sigmoid(beta * p.xw) - ref_log_sigmoid(-beta * p.xl);
      t.d_logp_w = -beta * ref_sigmoid(-beta * p.xw);
      t.d_logp_l = beta * ref_sigmoid(beta * p.xl);
      break;
    case 7:  // sppo_hard
      t.loss = pow(p.xw - 0.5 / beta, 2) + pow(p.xl + 0.5 / beta, 2);
      t.d_logp_w = 2 * (p.xw - 0.5 / beta);
      t.d_logp_l = 2 * (p.xl + 0.5 / beta);
      break;
    case 8:  // aot
      smoothed_sigmoid(beta * (p.sw - p.sl - p.ref_margin_at_rank), eps, &t.loss, &dy);
      t.d_logp_w = beta * dy;
      t.d_logp_l = -beta * dy;
      break;
    case 9: {  // aot_unpaired
      double other_loss, other_dy;
      smoothed_sigmoid(beta * (p.xw - p.xl_at_rank), eps, &t.loss, &dy);
      smoothed_sigmoid(beta * (p.xw_at_rank - p.xl), eps, &other_loss, &other_dy);
      t.d_logp_w = beta * dy;
      t.d_logp_l = -beta * other_dy;
      break;
    }
    case 10: {  // apo_zero
      double qw = ref_sigmoid(beta * p.xw), ql = ref_sigmoid(beta * p.xl);
      t.loss = (1 - qw) + ql;
      t.d_logp_w = -beta * qw * (1 - qw);
      t.d_logp_l = beta * ql * (1 - ql);
      break;
    }
    case 11: {  // apo_down
      double qw = ref_sigmoid(beta * p.xw), qm = ref_sigmoid(beta * (p.xw - p.xl));
      t.loss = qw + (1 - qm);
      t.d_logp_w = beta * qw * (1 - qw) - beta * qm * (1 - qm);
      t.d_logp_l = beta * qm * (1 - qm);
      break;
    }
    case 12: {  // discopop
      double x = beta * d, tau = o.discopop_tau;
      double m = ref_sigmoid(x / tau), dm = m * (1 - m) / tau;
      double logistic = -ref_log_sigmoid(x);
      // m * exp(-x) and dm * exp(-x) through logs, so that a vanishing m meets a huge exp(-x) as 0, not inf * 0.
      double m_exp = exp(log(m) - x), dm_exp = exp(log(m) + log(1 - m) - x) / tau;
      t.loss = logistic * (1 - m) + m_exp;
      double dx = -ref_sigmoid(-x) * (1 - m) - logistic * dm - m_exp + dm_exp;
      t.d_score_w = beta * dx;
      t.d_score_l = -beta * dx;
      break;
    }
    case 13:  // sft
      t.loss = -p.sw / p.nw;
      t.d_logp_w = -1 / p.nw;
      break;
    case 14: {  // sigmoid_norm
      double x = beta * (p.score_w / p.nw - p.score_l / p.nl);
      t.loss = -ref_log_sigmoid(x);
      t.d_score_w = -beta * ref_sigmoid(-x) / p.nw;
      t.d_score_l = beta * ref_sigmoid(-x) / p.nl;
      break;
    }
    case 15:  // simpo
      smoothed_sigmoid(beta * (p.sw / p.nw - p.sl / p.nl) - o.simpo_gamma, eps, &t.loss, &dy);
      t.d_logp_w = beta * dy / p.nw;
      t.d_logp_l = -beta * dy / p.nl;
      break;
    default:
      break;
  }
  return t;
}

// f(x) of the f-divergence and f'(x).
double reference_score(const grpo4j_options& o, double x, double* derivative) {
  if (o.f_divergence == GRPO4J_FORWARD_KL) {
    *derivative = exp(-x);
    return 1 - exp(-x);
  }
  if (o.f_divergence == GRPO4J_JS_DIVERGENCE) {
    *derivative = ref_sigmoid(-x);
    return log(2.0) + ref_log_sigmoid(x);
  }
  if (o.f_divergence == GRPO4J_ALPHA_DIVERGENCE && fabs(o.f_alpha - 1) >= 1e-6) {
    double t = (o.f_alpha - 1) * x;
    *derivative = t <= 80 ? exp(t) : 0;
    return (exp(std::min(t, 80.0)) - 1) / (o.f_alpha - 1);
  }
  *derivative = 1;
  return x;
}

// For each pair, the value of `values` at the rank that the pair's `keys` value has within its group's pairs.
std::vector<double> at_rank_within_group(const std::vector<double>& keys, const std::vector<double>& values,
                                         const int32_t* group_ids) {
  const size_t n = keys.size();
  std::vector<double> out(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    std::vector<size_t> members;
    for (size_t j = 0; j < n; ++j)
      if (group_ids[j] == group_ids[i]) members.push_back(j);
    std::vector<size_t> by_key = members, by_value = members;
    std::stable_sort(by_key.begin(), by_key.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
    std::stable_sort(by_value.begin(), by_value.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
    size_t rank = std::find(by_key.begin(), by_key.end(), i) - by_key.begin();
    out[i] = values[by_value[rank]];
  }
  return out;
}

}  // namespace

void reference_pair_losses(const grpo4j_options& o, const grpo4j_batch& b, const std::vector<double>& logp,
                           const std::vector<int32_t>& tokens, std::vector<double>& pair_loss, double* dloss) {
  const int64_t B = b.num_pairs;
  std::vector<double> xw(B), xl(B), margin(B), ref_margin(B);
  for (int64_t i = 0; i < B; ++i) {
    xw[i] = logp[i] - b.ref_logps[i];
    xl[i] = logp[B + i] - b.ref_logps[B + i];
    margin[i] = logp[i] - logp[B + i];
    ref_margin[i] = (double)b.ref_logps[i] - (double)b.ref_logps[B + i];
  }
  const std::vector<double> ref_margin_at_rank = at_rank_within_group(margin, ref_margin, b.group_ids);
  const std::vector<double> xl_at_rank = at_rank_within_group(xw, xl, b.group_ids);
  const std::vector<double> xw_at_rank = at_rank_within_group(xl, xw, b.group_ids);
  const int terms = o.num_terms > 0 ? o.num_terms : 1;
  for (int64_t i = 0; i < B; ++i) {
    Pair p;
    double dscore_w, dscore_l;
    p.sw = logp[i];
    p.sl = logp[B + i];
    p.xw = xw[i];
    p.xl = xl[i];
    p.score_w = reference_score(o, xw[i], &dscore_w);
    p.score_l = reference_score(o, xl[i], &dscore_l);
    p.nw = std::max(tokens[i], 1);
    p.nl = std::max(tokens[B + i], 1);
    p.ref_margin_at_rank = ref_margin_at_rank[i];
    p.xl_at_rank = xl_at_rank[i];
    p.xw_at_rank = xw_at_rank[i];
    double loss = 0, dw = 0, dl = 0;
    for (int t = 0; t < terms; ++t) {
      int32_t code = o.num_terms > 0 ? o.term_types[t] : o.loss_type;
      double weight = o.num_terms > 0 ? o.term_weights[t] : 1.0;
      Term term = reference_term(code, o, p);
      loss += weight * term.loss;
      dw += weight * (term.d_score_w * dscore_w + term.d_logp_w);
      dl += weight * (term.d_score_l * dscore_l + term.d_logp_l);
    }
    pair_loss[i] = loss;
    dloss[i] = dw;
    dloss[B + i] = dl;
  }
}

}  // namespace grpo4j
