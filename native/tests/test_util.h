// Test harness shared by the native tests: random cases of awkward shapes, a host-memory runner for any
// backend, and tolerance checks |a - r| <= atol + rtol * |r| that print the first mismatches.
#ifndef GRPO4J_TEST_UTIL_H
#define GRPO4J_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chrono>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../src/internal.h"
#include "grpo4j.h"

namespace grpo4j_test {

struct Case {
  int64_t pairs = 1, seq_len = 1, vocab = 1;
  int32_t groups = 1;
  int32_t logits_type = GRPO4J_F32, label_type = GRPO4J_I32;
  std::vector<uint8_t> logits, labels;
  std::vector<float> ref_logps;
  std::vector<int32_t> group_ids;
  std::vector<int64_t> group_sizes;
  std::vector<double> log_alpha;
  grpo4j_options options{};
  int64_t rows() const { return 2 * pairs; }
  int64_t elements() const { return rows() * seq_len * vocab; }
};

struct Shape {
  int64_t pairs, seq_len, vocab;
  int32_t groups;
};

struct Outputs {
  grpo4j_status status = GRPO4J_OK;
  std::string error;
  float loss = 0;
  std::vector<float> pair_loss, pair_margin, pair_chosen_reward, pair_rejected_reward, pair_chosen_logp,
      pair_rejected_logp;
  std::vector<float> group_loss, group_weight, group_reward_accuracy, group_logp_accuracy, group_chosen_reward,
      group_rejected_reward, group_margin;
  std::vector<int32_t> group_count;
  int32_t flags = 0;
  std::vector<double> log_alpha;
  std::vector<uint8_t> grad;
};

inline grpo4j_options default_options() {
  grpo4j_options o{};
  o.beta = 0.1;
  o.eta = 0.5;
  o.chi = 1.0;
  o.loss_type = GRPO4J_LOSS_DPO;
  o.weighting = GRPO4J_WEIGHTING_ROBUST;
  o.group_norm = GRPO4J_NORM_BATCH_MEAN;
  o.f_alpha = 0.5;
  o.discopop_tau = 0.05;
  o.simpo_gamma = 0.5;
  return o;
}

// One loss choice of the table for the backend tests: a name and the options it sets.
struct LossChoice {
  std::string name;
  std::function<void(grpo4j_options&)> apply;
};

// Every loss of the table alone (label smoothing where it is read, so that it is exercised), and two mixtures: one on
// f-divergence scores, one with a sorting loss and a reference-free one.
inline std::vector<LossChoice> loss_table_choices() {
  std::vector<LossChoice> choices;
  for (int32_t index = 0; index < grpo4j_loss_count(); ++index) {
    grpo4j_loss_info info;
    if (grpo4j_loss_info_at(index, &info) != GRPO4J_OK) continue;
    const int32_t code = info.code, flags = info.flags;
    choices.push_back({info.name, [=](grpo4j_options& o) {
                         o.loss_type = code;
                         o.label_smoothing = (flags & GRPO4J_LOSS_LABEL_SMOOTHING) ? 0.2 : 0.0;
                         o.ipo_length_norm = (flags & GRPO4J_LOSS_LENGTHS) ? 1 : 0;
                       }});
  }
  choices.push_back({"sigmoid+sft_js", [](grpo4j_options& o) {
                       o.num_terms = 2;
                       o.term_types[0] = GRPO4J_LOSS_DPO;
                       o.term_types[1] = 13;  // sft
                       o.term_weights[0] = 1.0;
                       o.term_weights[1] = 0.3;
                       o.f_divergence = GRPO4J_JS_DIVERGENCE;
                     }});
  choices.push_back({"aot_unpaired+simpo", [](grpo4j_options& o) {
                       o.num_terms = 2;
                       o.term_types[0] = 9;   // aot_unpaired
                       o.term_types[1] = 15;  // simpo
                       o.term_weights[0] = 0.7;
                       o.term_weights[1] = -0.4;
                       o.label_smoothing = 0.1;
                     }});
  return choices;
}

// Logits ~ scale * N(0,1); each position masked with probability mask_fraction; row `masked_row` (if >= 0)
// fully masked; group `absent_group` (if >= 0) never used when there are at least two groups.
inline Case random_case(std::mt19937_64& rng, Shape s, int32_t logits_type, int32_t label_type, double scale,
                        double mask_fraction, int64_t masked_row, int32_t absent_group) {
  Case c;
  c.pairs = s.pairs;
  c.seq_len = s.seq_len;
  c.vocab = s.vocab;
  c.groups = s.groups;
  c.logits_type = logits_type;
  c.label_type = label_type;
  c.options = default_options();
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const int64_t esize = grpo4j::element_size(logits_type);
  c.logits.resize(c.elements() * esize);
  for (int64_t e = 0; e < c.elements(); ++e) grpo4j::store_logit(c.logits.data(), logits_type, e, (float)scale * normal(rng));
  const int64_t positions = c.rows() * c.seq_len;
  c.labels.resize(positions * grpo4j::index_size(label_type));
  std::uniform_int_distribution<int64_t> token(0, c.vocab - 1);
  for (int64_t p = 0; p < positions; ++p) {
    int64_t label = token(rng);
    if (uniform(rng) < mask_fraction || p / c.seq_len == masked_row) label = GRPO4J_IGNORE_INDEX;
    if (label_type == GRPO4J_I64)
      ((int64_t*)c.labels.data())[p] = label;
    else
      ((int32_t*)c.labels.data())[p] = (int32_t)label;
  }
  c.ref_logps.resize(c.rows());
  for (auto& r : c.ref_logps) r = (float)(-3.0 * c.seq_len * uniform(rng));
  std::uniform_int_distribution<int32_t> group(0, c.groups - 1);
  c.group_ids.resize(c.pairs);
  for (auto& g : c.group_ids) {
    do g = group(rng);
    while (c.groups > 1 && g == absent_group);
  }
  c.group_sizes.resize(c.groups);
  for (auto& n : c.group_sizes) n = 1 + (int64_t)(200 * uniform(rng));
  c.log_alpha.resize(c.groups);
  double sum = 0;
  for (auto& a : c.log_alpha) sum += (a = 0.1 + uniform(rng));
  for (auto& a : c.log_alpha) a = log(a / sum);
  return c;
}

// The pairs [first, first + count) of `whole` as a case of their own: their chosen rows, then their rejected rows.
inline Case pair_slice(const Case& whole, int64_t first, int64_t count) {
  Case c = whole;
  c.pairs = count;
  const int64_t row_elements = whole.seq_len * whole.vocab, esize = grpo4j::element_size(whole.logits_type);
  const int64_t isize = grpo4j::index_size(whole.label_type);
  c.logits.clear();
  c.labels.clear();
  c.ref_logps.clear();
  for (int half = 0; half < 2; ++half) {
    const int64_t row = half * whole.pairs + first;
    c.logits.insert(c.logits.end(), whole.logits.begin() + row * row_elements * esize,
                    whole.logits.begin() + (row + count) * row_elements * esize);
    c.labels.insert(c.labels.end(), whole.labels.begin() + row * whole.seq_len * isize,
                    whole.labels.begin() + (row + count) * whole.seq_len * isize);
    c.ref_logps.insert(c.ref_logps.end(), whole.ref_logps.begin() + row, whole.ref_logps.begin() + row + count);
  }
  c.group_ids.assign(whole.group_ids.begin() + first, whole.group_ids.begin() + first + count);
  return c;
}

// Gradients of two slices' cases joined back in the whole batch's row order (chosen rows of a, of b, then rejected
// rows of a, of b).
inline std::vector<uint8_t> join_slice_grads(const Case& whole, const std::vector<uint8_t>& a, int64_t a_pairs,
                                             const std::vector<uint8_t>& b, int64_t b_pairs) {
  const int64_t row_bytes = whole.seq_len * whole.vocab * grpo4j::element_size(whole.logits_type);
  std::vector<uint8_t> joined;
  for (int half = 0; half < 2; ++half) {
    joined.insert(joined.end(), a.begin() + half * a_pairs * row_bytes, a.begin() + (half + 1) * a_pairs * row_bytes);
    joined.insert(joined.end(), b.begin() + half * b_pairs * row_bytes, b.begin() + (half + 1) * b_pairs * row_bytes);
  }
  return joined;
}

inline void resize_outputs(Outputs& o, const Case& c) {
  for (auto* v : {&o.pair_loss, &o.pair_margin, &o.pair_chosen_reward, &o.pair_rejected_reward, &o.pair_chosen_logp,
                  &o.pair_rejected_logp})
    v->assign(c.pairs, NAN);
  for (auto* v : {&o.group_loss, &o.group_weight, &o.group_reward_accuracy, &o.group_logp_accuracy,
                  &o.group_chosen_reward, &o.group_rejected_reward, &o.group_margin})
    v->assign(c.groups, NAN);
  o.group_count.assign(c.groups, -1);
  o.flags = -1;
  o.loss = NAN;
  o.log_alpha = c.log_alpha;
}

// Fills batch pointers for buffers that all live in the same address space (host or device).
inline grpo4j_batch make_batch(const Case& c, const void* logits, const void* labels, const float* ref,
                               const int32_t* group_ids, const int64_t* group_sizes, double* log_alpha, void* grad,
                               const grpo4j_outputs& outputs) {
  grpo4j_batch b{};
  b.tokens.logits = logits;
  b.tokens.labels = labels;
  b.tokens.rows = c.rows();
  b.tokens.seq_len = c.seq_len;
  b.tokens.vocab = c.vocab;
  b.tokens.logits_type = c.logits_type;
  b.tokens.label_type = c.label_type;
  b.ref_logps = ref;
  b.group_ids = group_ids;
  b.group_sizes = group_sizes;
  b.log_alpha = log_alpha;
  b.grad = grad;
  b.num_pairs = c.pairs;
  b.num_groups = c.groups;
  b.out = outputs;
  return b;
}

inline grpo4j_outputs host_output_pointers(Outputs& o) {
  grpo4j_outputs p{};
  p.loss = &o.loss;
  p.pair_loss = o.pair_loss.data();
  p.pair_margin = o.pair_margin.data();
  p.pair_chosen_reward = o.pair_chosen_reward.data();
  p.pair_rejected_reward = o.pair_rejected_reward.data();
  p.pair_chosen_logp = o.pair_chosen_logp.data();
  p.pair_rejected_logp = o.pair_rejected_logp.data();
  p.group_loss = o.group_loss.data();
  p.group_weight = o.group_weight.data();
  p.group_reward_accuracy = o.group_reward_accuracy.data();
  p.group_logp_accuracy = o.group_logp_accuracy.data();
  p.group_chosen_reward = o.group_chosen_reward.data();
  p.group_rejected_reward = o.group_rejected_reward.data();
  p.group_margin = o.group_margin.data();
  p.group_count = o.group_count.data();
  p.flags = &o.flags;
  return p;
}

// Runs a host-memory backend (CPU or REFERENCE). in_place: the gradient overwrites a copy of the logits.
inline Outputs run_host(const Case& c, int32_t backend, bool train, int threads, bool in_place) {
  Outputs o;
  resize_outputs(o, c);
  std::vector<uint8_t> logits = c.logits;
  o.grad.assign(c.logits.size(), 0xA5);  // poison: every element must be written
  void* grad = in_place ? (void*)logits.data() : (void*)o.grad.data();
  grpo4j_batch b = make_batch(c, logits.data(), c.labels.data(), c.ref_logps.data(), c.group_ids.data(),
                              c.group_sizes.data(), o.log_alpha.data(), grad, host_output_pointers(o));
  grpo4j_exec exec{nullptr, backend, threads};
  o.status = train ? grpo4j_loss_forward_backward(&c.options, &b, &exec) : grpo4j_loss_forward(&c.options, &b, &exec);
  o.error = grpo4j_last_error();
  if (in_place) o.grad = logits;
  return o;
}

struct Checker {
  int failures = 0;
  std::string context;

  // |a - r| <= atol + rtol * |r| elementwise; NaN never passes.
  bool close(const char* name, const float* a, const float* r, int64_t n, double atol, double rtol) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i) {
      double diff = fabs((double)a[i] - (double)r[i]);
      if (!(diff <= atol + rtol * fabs((double)r[i]))) {
        if (bad < 5)
          fprintf(stderr, "  MISMATCH %s %s[%lld]: got %.9g want %.9g (|diff| %.3g)\n", context.c_str(), name,
                  (long long)i, (double)a[i], (double)r[i], diff);
        ++bad;
      }
    }
    if (bad) {
      fprintf(stderr, "  %s %s: %lld of %lld elements outside atol %.3g rtol %.3g\n", context.c_str(), name,
              (long long)bad, (long long)n, atol, rtol);
      ++failures;
    }
    return bad == 0;
  }

  bool close(const char* name, const std::vector<float>& a, const std::vector<float>& r, double atol, double rtol) {
    return close(name, a.data(), r.data(), (int64_t)r.size(), atol, rtol);
  }

  bool close_grad(const Case& c, const std::vector<uint8_t>& a, const std::vector<uint8_t>& r, double atol,
                  double rtol) {
    std::vector<float> fa(c.elements()), fr(c.elements());
    for (int64_t e = 0; e < c.elements(); ++e) {
      fa[e] = grpo4j::load_logit(a.data(), c.logits_type, e);
      fr[e] = grpo4j::load_logit(r.data(), c.logits_type, e);
    }
    return close("grad", fa, fr, atol, rtol);
  }

  bool expect(bool condition, const char* what) {
    if (!condition) {
      fprintf(stderr, "  FAILED %s: %s\n", context.c_str(), what);
      ++failures;
    }
    return condition;
  }

  // Every output of `a` against `r`. Tolerances are for the logits type; the gradient is compared in
  // absolute terms scaled by its largest reference element.
  void outputs(const Case& c, const Outputs& a, const Outputs& r, bool train, double rtol) {
    if (!expect(a.status == r.status, "status differs")) {
      fprintf(stderr, "  got %d (%s) want %d (%s)\n", a.status, a.error.c_str(), r.status, r.error.c_str());
      return;
    }
    if (a.status != GRPO4J_OK) return;
    const double atol = 1e-6;
    close("loss", &a.loss, &r.loss, 1, atol, rtol);
    // Log-probs are sums over T positions of values of size ~log V: compare relative to that scale.
    double logp_atol = rtol * (double)c.seq_len * (1.0 + log((double)c.vocab));
    close("pair_chosen_logp", a.pair_chosen_logp, r.pair_chosen_logp, logp_atol, rtol);
    close("pair_rejected_logp", a.pair_rejected_logp, r.pair_rejected_logp, logp_atol, rtol);
    close("pair_margin", a.pair_margin, r.pair_margin, 2 * logp_atol, rtol);
    close("pair_chosen_reward", a.pair_chosen_reward, r.pair_chosen_reward, c.options.beta * logp_atol, rtol);
    close("pair_rejected_reward", a.pair_rejected_reward, r.pair_rejected_reward, c.options.beta * logp_atol, rtol);
    close("pair_loss", a.pair_loss, r.pair_loss, atol + 2 * logp_atol * c.options.beta, rtol);
    close("group_loss", a.group_loss, r.group_loss, atol + 2 * logp_atol * c.options.beta, rtol);
    close("group_weight", a.group_weight, r.group_weight, atol, rtol);
    close("group_chosen_reward", a.group_chosen_reward, r.group_chosen_reward, c.options.beta * logp_atol, rtol);
    close("group_rejected_reward", a.group_rejected_reward, r.group_rejected_reward, c.options.beta * logp_atol, rtol);
    close("group_margin", a.group_margin, r.group_margin, 2 * logp_atol, rtol);
    // An accuracy counts signs; a pair whose margin or log-prob difference lies within rounding of zero may
    // fall either way, so the accuracies are compared exactly only when no pair is that close.
    bool near_tie = false;
    for (int64_t i = 0; i < c.pairs; ++i) {
      near_tie |= fabs((double)r.pair_margin[i]) <= 2 * logp_atol;
      near_tie |= fabs((double)r.pair_chosen_logp[i] - (double)r.pair_rejected_logp[i]) <= 2 * logp_atol;
    }
    if (!near_tie) {
      close("group_reward_accuracy", a.group_reward_accuracy, r.group_reward_accuracy, 0, 0);
      close("group_logp_accuracy", a.group_logp_accuracy, r.group_logp_accuracy, 0, 0);
    }
    expect(a.group_count == r.group_count, "group_count differs");
    expect(a.flags == r.flags, "flags differ");
    for (size_t g = 0; g < r.log_alpha.size(); ++g) {
      if (!(fabs(a.log_alpha[g] - r.log_alpha[g]) <= 1e-6 + rtol * fabs(r.log_alpha[g]))) {
        fprintf(stderr, "  MISMATCH %s log_alpha[%zu]: got %.12g want %.12g\n", context.c_str(), g, a.log_alpha[g],
                r.log_alpha[g]);
        ++failures;
        break;
      }
    }
    if (train) {
      double max_ref = 0;
      for (int64_t e = 0; e < c.elements(); ++e)
        max_ref = fmax(max_ref, fabs((double)grpo4j::load_logit(r.grad.data(), c.logits_type, e)));
      close_grad(c, a.grad, r.grad, rtol * max_ref + 1e-30, rtol);
    }
  }
};

// One test of a seeded suite: it draws its inputs from the suite's generator.
struct SeededTest {
  const char* name;
  void (*run)(std::mt19937_64&, Checker&);
};

// The main of a seeded suite: the seed from argv[1] or random (printed, so that a failure can be rerun), every test
// in order with its time, a summary; 0 when all passed.
template <size_t N>
int run_seeded_tests(const char* program, int argc, char** argv, const SeededTest (&tests)[N]) {
  const uint64_t seed =
      argc > 1 ? strtoull(argv[1], nullptr, 0) : ((uint64_t)std::random_device{}() << 32) ^ std::random_device{}();
  printf("%s: seed %llu (rerun with: %s %llu)\n", program, (unsigned long long)seed, program,
         (unsigned long long)seed);
  std::mt19937_64 rng(seed);
  int passed = 0, failed = 0;
  for (const SeededTest& test : tests) {
    Checker check;
    const auto start = std::chrono::steady_clock::now();
    test.run(rng, check);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    printf("%s %s (%.2f s)\n", check.failures == 0 ? "PASS" : "FAIL", test.name, seconds);
    fflush(stdout);
    (check.failures == 0 ? passed : failed) += 1;
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace grpo4j_test

#endif
