// The CPU backend against the double-precision REFERENCE backend, through the public ABI only, on fresh
// random inputs each run (the seed is printed; pass it as the first argument to repeat a run). Covers
// awkward shapes, every loss option, the three logits types, forward-only and training calls, in-place
// gradients, bit-identical results across thread counts and runs, sequence log-probs, and input errors.
// Exits non-zero if any check fails.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chrono>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

using namespace grpo4j_test;

namespace {

// Forward outputs are computed from identical (already rounded) inputs, so they agree closely in every
// logits type; the gradient is rounded to the logits type on output, so its tolerance is about one unit
// in the last place of that type (the two backends may round a value near a midpoint differently).
constexpr double kForwardRtol = 1e-5;

double gradient_rtol(int32_t logits_type) {
  return logits_type == GRPO4J_F32 ? 1e-5 : logits_type == GRPO4J_BF16 ? 8e-3 : 1e-3;
}

const char* type_name(int32_t t) { return t == GRPO4J_F32 ? "f32" : t == GRPO4J_BF16 ? "bf16" : "f16"; }

std::string describe(const Case& c, const char* extra) {
  char text[256];
  snprintf(text, sizeof text, "B=%lld T=%lld V=%lld K=%d %s %s loss=%d w=%d norm=%d eps=%g lnorm=%d C=%g chi=%g %s",
           (long long)c.pairs, (long long)c.seq_len, (long long)c.vocab, c.groups, type_name(c.logits_type),
           c.label_type == GRPO4J_I64 ? "i64" : "i32", c.options.loss_type, c.options.weighting,
           c.options.group_norm, c.options.label_smoothing, c.options.ipo_length_norm, c.options.adjustment,
           c.options.chi, extra);
  return text;
}

// CPU (threads, in_place) against the reference, forward outputs and, when training, the gradient.
void compare(Checker& check, const Case& c, bool train, int threads, bool in_place, const char* extra = "") {
  check.context = describe(c, extra);
  const Outputs reference = run_host(c, GRPO4J_BACKEND_REFERENCE, train, 1, false);
  const Outputs cpu = run_host(c, GRPO4J_BACKEND_CPU, train, threads, in_place);
  if (!check.expect(reference.status == GRPO4J_OK, "reference backend failed")) {
    fprintf(stderr, "  %s\n", reference.error.c_str());
    return;
  }
  check.outputs(c, cpu, reference, false, kForwardRtol);
  if (cpu.status != GRPO4J_OK) return;
  if (train) {
    double max_ref = 0;
    for (int64_t e = 0; e < c.elements(); ++e)
      max_ref = fmax(max_ref, fabs((double)grpo4j::load_logit(reference.grad.data(), c.logits_type, e)));
    const double rtol = gradient_rtol(c.logits_type);
    check.close_grad(c, cpu.grad, reference.grad, rtol * max_ref + 1e-30, rtol);
  } else if (!in_place) {
    check.expect(cpu.grad == std::vector<uint8_t>(c.logits.size(), 0xA5), "forward-only call wrote the gradient");
    check.expect(cpu.log_alpha == c.log_alpha, "forward-only call changed log_alpha");
  }
}

template <typename T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

bool bit_identical(const Outputs& a, const Outputs& b) {
  return a.status == b.status && memcmp(&a.loss, &b.loss, sizeof a.loss) == 0 && same_bytes(a.pair_loss, b.pair_loss) &&
         same_bytes(a.pair_margin, b.pair_margin) && same_bytes(a.pair_chosen_reward, b.pair_chosen_reward) &&
         same_bytes(a.pair_rejected_reward, b.pair_rejected_reward) &&
         same_bytes(a.pair_chosen_logp, b.pair_chosen_logp) && same_bytes(a.pair_rejected_logp, b.pair_rejected_logp) &&
         same_bytes(a.group_loss, b.group_loss) && same_bytes(a.group_weight, b.group_weight) &&
         same_bytes(a.group_reward_accuracy, b.group_reward_accuracy) &&
         same_bytes(a.group_logp_accuracy, b.group_logp_accuracy) &&
         same_bytes(a.group_chosen_reward, b.group_chosen_reward) &&
         same_bytes(a.group_rejected_reward, b.group_rejected_reward) && same_bytes(a.group_margin, b.group_margin) &&
         same_bytes(a.group_count, b.group_count) && a.flags == b.flags && same_bytes(a.log_alpha, b.log_alpha) &&
         same_bytes(a.grad, b.grad);
}

void set_label(Case& c, int64_t position, int64_t label) {
  if (c.label_type == GRPO4J_I64)
    ((int64_t*)c.labels.data())[position] = label;
  else
    ((int32_t*)c.labels.data())[position] = (int32_t)label;
}

int64_t label_at(const Case& c, int64_t position) { return grpo4j::load_label(c.labels.data(), c.label_type, position); }

// First labelled position at or after `from`.
int64_t labelled_position(const Case& c, int64_t from) {
  for (int64_t p = from; p < c.rows() * c.seq_len; ++p)
    if (label_at(c, p) != GRPO4J_IGNORE_INDEX) return p;
  return -1;
}

// An input error: both backends return `status` with a message containing `needle`, set `flag`, and leave
// log_alpha and the gradient buffer untouched.
void expect_error(Checker& check, const Case& c, grpo4j_status status, const char* needle, int32_t flag,
                  const char* what) {
  for (int threads : {1, 2, 8}) {
    for (int32_t backend : {GRPO4J_BACKEND_CPU, GRPO4J_BACKEND_REFERENCE}) {
      char context[160];
      snprintf(context, sizeof context, "%s backend=%d threads=%d", what, backend, threads);
      check.context = describe(c, context);
      for (bool train : {false, true}) {
        const Outputs o = run_host(c, backend, train, threads, false);
        if (!check.expect(o.status == status, "wrong status")) {
          fprintf(stderr, "  got %d (%s), want %d\n", o.status, o.error.c_str(), status);
          continue;
        }
        if (!check.expect(o.error.find(needle) != std::string::npos, "message does not name the argument"))
          fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", o.error.c_str(), needle);
        if (!check.expect(o.flags == flag, "wrong flags")) fprintf(stderr, "  flags %d, want %d\n", o.flags, flag);
        check.expect(o.log_alpha == c.log_alpha, "log_alpha changed on error");
        check.expect(o.grad == std::vector<uint8_t>(c.logits.size(), 0xA5), "gradient written on error");
      }
    }
  }
}

// --- tests -------------------------------------------------------------------------------------------

// Vocabulary sizes 1, 7, 8 and 50257 with T = 1 and 47 (short T for the large V), K = 1 and 7, a fully
// masked row and a group absent from the batch, both label types, training and forward-only.
void test_shapes(std::mt19937_64& rng, Checker& check) {
  for (int64_t vocab : {1, 7, 8, 50257}) {
    for (int64_t seq_len : {1, 47}) {
      for (int32_t groups : {1, 7}) {
        const int64_t T = vocab > 1000 && seq_len > 1 ? 3 : seq_len;
        const int64_t pairs = groups == 1 ? 3 : 9;
        const int32_t label_type = (vocab + seq_len) % 2 ? GRPO4J_I64 : GRPO4J_I32;
        Case c = random_case(rng, {pairs, T, vocab, groups}, GRPO4J_F32, label_type, 1.0, 0.3, 1, 2);
        compare(check, c, true, 2, false);
        compare(check, c, false, 2, false);
      }
    }
  }
}

// Every loss type, weighting, group normalisation, adjustment and chi, training then evaluation.
void test_loss_options(std::mt19937_64& rng, Checker& check) {
  Case base = random_case(rng, {8, 5, 50, 3}, GRPO4J_F32, GRPO4J_I32, 2.0, 0.2, -1, -1);
  struct Loss {
    int32_t type;
    double smoothing;
    int32_t length_norm;
  };
  for (Loss loss : {Loss{GRPO4J_LOSS_DPO, 0.0, 0}, Loss{GRPO4J_LOSS_DPO, 0.2, 0}, Loss{GRPO4J_LOSS_IPO, 0.0, 0},
                    Loss{GRPO4J_LOSS_IPO, 0.0, 1}}) {
    for (int32_t weighting :
         {GRPO4J_WEIGHTING_ROBUST, GRPO4J_WEIGHTING_IMPORTANCE_SAMPLING, GRPO4J_WEIGHTING_AVERAGE}) {
      for (int32_t norm : {GRPO4J_NORM_BATCH_MEAN, GRPO4J_NORM_DATASET_FREQUENCY}) {
        for (double adjustment : {0.0, 0.3}) {
          const std::vector<double> chis =
              weighting == GRPO4J_WEIGHTING_ROBUST ? std::vector<double>{0.0, 0.5, 1.0} : std::vector<double>{1.0};
          for (double chi : chis) {
            Case c = base;
            c.options.loss_type = loss.type;
            c.options.label_smoothing = loss.smoothing;
            c.options.ipo_length_norm = loss.length_norm;
            c.options.weighting = weighting;
            c.options.group_norm = norm;
            c.options.adjustment = adjustment;
            c.options.chi = chi;
            c.options.beta = loss.type == GRPO4J_LOSS_IPO ? 0.5 : 0.1;
            compare(check, c, true, 2, false);
            compare(check, c, false, 2, false);
          }
        }
      }
    }
  }
}

// Every loss of the table and two mixtures, under each weighting, with a fully masked row and an absent group.
void test_loss_table(std::mt19937_64& rng, Checker& check) {
  for (const LossChoice& choice : loss_table_choices()) {
    for (int32_t weighting : {GRPO4J_WEIGHTING_ROBUST, GRPO4J_WEIGHTING_IMPORTANCE_SAMPLING, GRPO4J_WEIGHTING_AVERAGE}) {
      Case c = random_case(rng, {7, 6, 257, 4}, GRPO4J_F32, GRPO4J_I64, 1.0, 0.3, 9, 2);
      choice.apply(c.options);
      c.options.weighting = weighting;
      compare(check, c, true, 2, false, choice.name.c_str());
      compare(check, c, false, 2, false, choice.name.c_str());
    }
  }
}

// Logits of scale 1e4: softmax is one-hot to working precision and log-probs are in the tens of thousands.
void test_large_logits(std::mt19937_64& rng, Checker& check) {
  for (int32_t type : {GRPO4J_F32, GRPO4J_BF16, GRPO4J_F16}) {
    for (int32_t loss : {GRPO4J_LOSS_DPO, GRPO4J_LOSS_IPO}) {
      // The IPO gradient at this scale (|h| ~ 1e5) overflows fp16 in both backends: forward only there.
      const bool train = !(type == GRPO4J_F16 && loss == GRPO4J_LOSS_IPO);
      Case c = random_case(rng, {4, 47, 8, 2}, type, GRPO4J_I32, 1e4, 0.2, -1, -1);
      c.options.loss_type = loss;
      compare(check, c, train, 2, false);
      Case wide = random_case(rng, {2, 3, 50257, 2}, type, GRPO4J_I64, 1e4, 0.0, -1, -1);
      wide.options.loss_type = loss;
      compare(check, wide, train, 2, false);
    }
  }
}

// Gradients over 32 MiB go out with non-temporal stores; odd V leaves the rows unaligned. The streamed
// gradient equals the reference's and, bit for bit, the in-place one (which is not streamed).
void test_large_gradient(std::mt19937_64& rng, Checker& check) {
  for (int32_t type : {GRPO4J_F32, GRPO4J_BF16}) {
    const int64_t seq_len = type == GRPO4J_F32 ? 130 : 260;
    Case c = random_case(rng, {1, seq_len, 32771, 1}, type, GRPO4J_I32, 2.0, 0.2, -1, -1);
    compare(check, c, true, 2, false, "large gradient");
    const Outputs streamed = run_host(c, GRPO4J_BACKEND_CPU, true, 2, false);
    const Outputs in_place = run_host(c, GRPO4J_BACKEND_CPU, true, 3, true);
    check.expect(bit_identical(streamed, in_place), "streamed gradient differs from the in-place one");
  }
}

// bf16 and fp16 logits: converted on load, accumulated in fp32, gradient rounded to the logits type.
void test_low_precision(std::mt19937_64& rng, Checker& check) {
  for (int32_t type : {GRPO4J_BF16, GRPO4J_F16}) {
    for (Shape s : {Shape{3, 1, 7, 1}, Shape{5, 47, 8, 7}, Shape{2, 3, 50257, 2}, Shape{4, 13, 1000, 3}}) {
      for (double scale : {1.0, 8.0}) {
        Case c = random_case(rng, s, type, GRPO4J_I32, scale, 0.25, 0, 1);
        compare(check, c, true, 2, false);
        compare(check, c, false, 2, false);
      }
    }
  }
}

// Evaluation calls: same metrics from the current weights, log_alpha and the gradient buffer untouched.
void test_forward_only(std::mt19937_64& rng, Checker& check) {
  for (int32_t weighting : {GRPO4J_WEIGHTING_ROBUST, GRPO4J_WEIGHTING_IMPORTANCE_SAMPLING, GRPO4J_WEIGHTING_AVERAGE}) {
    Case c = random_case(rng, {6, 20, 300, 4}, GRPO4J_F32, GRPO4J_I64, 1.0, 0.3, 3, 0);
    c.options.weighting = weighting;
    for (int threads : {1, 2}) compare(check, c, false, threads, false, "forward");
  }
  // Every output pointer NULL: nothing is written, the call still succeeds and updates log_alpha.
  Case c = random_case(rng, {3, 4, 40, 2}, GRPO4J_F32, GRPO4J_I32, 1.0, 0.2, -1, -1);
  check.context = describe(c, "null outputs");
  std::vector<double> log_alpha = c.log_alpha;
  std::vector<float> grad(c.elements());
  grpo4j_batch b = make_batch(c, c.logits.data(), c.labels.data(), c.ref_logps.data(), c.group_ids.data(),
                              c.group_sizes.data(), log_alpha.data(), grad.data(), grpo4j_outputs{});
  grpo4j_exec exec{nullptr, GRPO4J_BACKEND_CPU, 2};
  check.expect(grpo4j_loss_forward(&c.options, &b, &exec) == GRPO4J_OK, "forward with NULL outputs failed");
  check.expect(log_alpha == c.log_alpha, "forward changed log_alpha");
  check.expect(grpo4j_loss_forward_backward(&c.options, &b, &exec) == GRPO4J_OK, "training with NULL outputs failed");
  check.expect(log_alpha != c.log_alpha, "training did not update log_alpha");
}

// The gradient written over the logits buffer equals the reference's separate gradient.
void test_in_place(std::mt19937_64& rng, Checker& check) {
  for (int32_t type : {GRPO4J_F32, GRPO4J_BF16, GRPO4J_F16}) {
    for (Shape s : {Shape{3, 47, 8, 2}, Shape{2, 5, 50257, 2}, Shape{4, 11, 5000, 3}}) {
      Case c = random_case(rng, s, type, GRPO4J_I32, 1.0, 0.3, 1, -1);
      for (int threads : {1, 2, 3}) compare(check, c, true, threads, true, "in place");
    }
  }
}

// Bit-identical outputs and gradients for 1, 2, 3 and 8 threads and across repeated runs.
void test_determinism(std::mt19937_64& rng, Checker& check) {
  for (int32_t type : {GRPO4J_F32, GRPO4J_BF16, GRPO4J_F16}) {
    for (Shape s : {Shape{4, 47, 1000, 3}, Shape{2, 7, 50257, 2}}) {
      Case c = random_case(rng, s, type, GRPO4J_I32, 3.0, 0.3, 2, -1);
      check.context = describe(c, "determinism");
      for (bool train : {true, false}) {
        const Outputs first = run_host(c, GRPO4J_BACKEND_CPU, train, 1, false);
        check.expect(first.status == GRPO4J_OK, "CPU backend failed");
        for (int threads : {1, 2, 3, 8}) {
          for (int run = 0; run < 2; ++run) {
            const Outputs again = run_host(c, GRPO4J_BACKEND_CPU, train, threads, false);
            if (!check.expect(bit_identical(first, again), "outputs differ between thread counts or runs"))
              fprintf(stderr, "  threads=%d run=%d train=%d\n", threads, run, (int)train);
          }
        }
        if (train) {
          const Outputs in_place = run_host(c, GRPO4J_BACKEND_CPU, train, 3, true);
          check.expect(bit_identical(first, in_place), "in-place gradient differs from the separate one");
        }
      }
    }
  }
}

// grpo4j_sequence_logprobs against the reference, with and without the optional outputs.
void test_sequence_logprobs(std::mt19937_64& rng, Checker& check) {
  for (int32_t type : {GRPO4J_F32, GRPO4J_BF16, GRPO4J_F16}) {
    for (Shape s : {Shape{1, 1, 1, 1}, Shape{3, 47, 7, 1}, Shape{2, 3, 50257, 1}, Shape{5, 33, 2000, 1}}) {
      Case c = random_case(rng, s, type, GRPO4J_I64, 2.0, 0.3, 1, -1);
      check.context = describe(c, "sequence_logprobs");
      grpo4j_tokens tokens = make_batch(c, c.logits.data(), c.labels.data(), nullptr, nullptr, nullptr, nullptr,
                                        nullptr, grpo4j_outputs{})
                                 .tokens;
      std::vector<float> ref_logps(c.rows()), logps(c.rows(), NAN), bare_logps(c.rows(), NAN);
      std::vector<int32_t> ref_counts(c.rows()), counts(c.rows(), -1);
      int32_t ref_flags = -1, flags = -1;
      grpo4j_exec reference{nullptr, GRPO4J_BACKEND_REFERENCE, 1}, cpu{nullptr, GRPO4J_BACKEND_CPU, 2};
      check.expect(grpo4j_sequence_logprobs(&tokens, ref_logps.data(), ref_counts.data(), &ref_flags, &reference) ==
                       GRPO4J_OK,
                   "reference sequence_logprobs failed");
      check.expect(grpo4j_sequence_logprobs(&tokens, logps.data(), counts.data(), &flags, &cpu) == GRPO4J_OK,
                   "CPU sequence_logprobs failed");
      check.expect(grpo4j_sequence_logprobs(&tokens, bare_logps.data(), nullptr, nullptr, &cpu) == GRPO4J_OK,
                   "CPU sequence_logprobs without counts and flags failed");
      const double atol = kForwardRtol * (double)c.seq_len * (1.0 + log((double)c.vocab));
      check.close("logps", logps, ref_logps, atol, kForwardRtol);
      check.expect(same_bytes(logps, bare_logps), "logps depend on the optional outputs");
      check.expect(counts == ref_counts, "token counts differ");
      check.expect(flags == 0 && ref_flags == 0, "flags not cleared");
    }
  }
}

// Labels outside [0, V) other than -100; the lowest bad position is reported whatever the thread count.
void test_label_errors(std::mt19937_64& rng, Checker& check) {
  for (int64_t bad : {(int64_t)50, (int64_t)51, (int64_t)-5, (int64_t)-101}) {
    Case c = random_case(rng, {4, 20, 50, 2}, GRPO4J_F32, bad == 51 ? GRPO4J_I64 : GRPO4J_I32, 1.0, 0.2, -1, -1);
    const int64_t positions = c.rows() * c.seq_len;
    const int64_t first = labelled_position(c, positions / 3), later = labelled_position(c, positions - positions / 4);
    set_label(c, later, bad >= 0 ? -7 : 999);
    set_label(c, first, bad);
    char needle[64];
    snprintf(needle, sizeof needle, "labels[%lld][%lld] = %lld", (long long)(first / c.seq_len),
             (long long)(first % c.seq_len), (long long)bad);
    expect_error(check, c, GRPO4J_INVALID_ARGUMENT, needle, GRPO4J_FLAG_LABEL_RANGE, "bad label");
    // grpo4j_sequence_logprobs reports the same position and flag.
    const grpo4j_tokens tokens = make_batch(c, c.logits.data(), c.labels.data(), nullptr, nullptr, nullptr, nullptr,
                                            nullptr, grpo4j_outputs{})
                                     .tokens;
    for (int32_t backend : {GRPO4J_BACKEND_CPU, GRPO4J_BACKEND_REFERENCE}) {
      std::vector<float> logps(c.rows());
      int32_t flags = -1;
      const grpo4j_exec exec{nullptr, backend, 2};
      const grpo4j_status status = grpo4j_sequence_logprobs(&tokens, logps.data(), nullptr, &flags, &exec);
      check.expect(status == GRPO4J_INVALID_ARGUMENT && flags == GRPO4J_FLAG_LABEL_RANGE &&
                       std::string(grpo4j_last_error()).find(needle) != std::string::npos,
                   "sequence_logprobs does not report the bad label");
    }
  }
  // A label error after a non-finite logit reports the non-finite position: the first problem wins.
  Case c = random_case(rng, {4, 20, 50, 2}, GRPO4J_F32, GRPO4J_I32, 1.0, 0.0, -1, -1);
  grpo4j::store_logit(c.logits.data(), c.logits_type, 30 * c.vocab + 4, NAN);
  set_label(c, 100, 50);
  expect_error(check, c, GRPO4J_NON_FINITE_INPUT, "logits[1][10]", GRPO4J_FLAG_NON_FINITE, "NaN before bad label");
}

// NaN or infinite logits at a labelled position are errors; at a masked position they are never read.
void test_non_finite_errors(std::mt19937_64& rng, Checker& check) {
  for (int32_t type : {GRPO4J_F32, GRPO4J_BF16, GRPO4J_F16}) {
    for (float poison : {NAN, INFINITY}) {
      for (bool at_label : {false, true}) {
        Case c = random_case(rng, {3, 10, 5000, 2}, type, GRPO4J_I32, 1.0, 0.3, -1, -1);
        const int64_t p = labelled_position(c, 37);
        const int64_t label = label_at(c, p);
        const int64_t v = at_label ? label : (label + 4099) % c.vocab;
        grpo4j::store_logit(c.logits.data(), type, p * c.vocab + v, poison);
        char needle[64];
        snprintf(needle, sizeof needle, "logits[%lld][%lld]", (long long)(p / c.seq_len), (long long)(p % c.seq_len));
        expect_error(check, c, GRPO4J_NON_FINITE_INPUT, needle, GRPO4J_FLAG_NON_FINITE, "non-finite logit");
      }
    }
    // -inf logits are legal (banned tokens) as long as the labelled one is finite.
    Case c = random_case(rng, {3, 10, 600, 2}, type, GRPO4J_I32, 1.0, 0.3, -1, -1);
    for (int64_t p = 0; p < c.rows() * c.seq_len; ++p) {
      const int64_t label = label_at(c, p);
      for (int64_t v = 0; v < c.vocab; v += 3)
        if (v != label) grpo4j::store_logit(c.logits.data(), type, p * c.vocab + v, -INFINITY);
    }
    // A NaN at a masked position is never read.
    int64_t masked = 0;
    while (label_at(c, masked) != GRPO4J_IGNORE_INDEX) ++masked;
    grpo4j::store_logit(c.logits.data(), type, masked * c.vocab + 5, NAN);
    compare(check, c, true, 2, false, "-inf logits, NaN at a masked position");
    // A position whose logits are all -inf has no finite log-softmax.
    const int64_t p = labelled_position(c, 0);
    for (int64_t v = 0; v < c.vocab; ++v) grpo4j::store_logit(c.logits.data(), type, p * c.vocab + v, -INFINITY);
    char needle[64];
    snprintf(needle, sizeof needle, "logits[%lld][%lld]", (long long)(p / c.seq_len), (long long)(p % c.seq_len));
    expect_error(check, c, GRPO4J_NON_FINITE_INPUT, needle, GRPO4J_FLAG_NON_FINITE, "all -inf");
  }
}

// Group ids outside [0, K) and N_g = 0 where the options need N_g.
void test_group_errors(std::mt19937_64& rng, Checker& check) {
  for (int32_t bad : {3, 7, -1}) {
    Case c = random_case(rng, {5, 4, 30, 3}, GRPO4J_F32, GRPO4J_I32, 1.0, 0.2, -1, -1);
    c.group_ids[2] = bad;
    char needle[64];
    snprintf(needle, sizeof needle, "group_ids[2] = %d", bad);
    expect_error(check, c, GRPO4J_INVALID_ARGUMENT, needle, GRPO4J_FLAG_GROUP_RANGE, "bad group id");
  }
  Case c = random_case(rng, {5, 4, 30, 3}, GRPO4J_F32, GRPO4J_I32, 1.0, 0.2, -1, -1);
  c.options.group_norm = GRPO4J_NORM_DATASET_FREQUENCY;
  c.group_sizes[1] = 0;
  expect_error(check, c, GRPO4J_INVALID_ARGUMENT, "group_sizes[1] = 0", GRPO4J_FLAG_GROUP_SIZE, "N_g = 0");
}

// The synthetic experiment's shape (T = 1, V = 8, B = 300): many small training calls, each on the calling
// thread; the group weights follow the reference's trajectory.
void test_many_small_calls(std::mt19937_64& rng, Checker& check) {
  Case c = random_case(rng, {300, 1, 8, 2}, GRPO4J_F32, GRPO4J_I32, 1.0, 0.0, -1, -1);
  c.options.eta = 0.5;
  c.options.beta = 1.0;
  check.context = describe(c, "many small calls");
  Outputs cpu, reference;
  resize_outputs(cpu, c);
  resize_outputs(reference, c);
  std::vector<float> grad_cpu(c.elements()), grad_reference(c.elements());
  const int calls = 2000;
  double seconds = 0;
  for (int call = 0; call < calls; ++call) {
    for (bool is_cpu : {true, false}) {
      Outputs& o = is_cpu ? cpu : reference;
      std::vector<float>& grad = is_cpu ? grad_cpu : grad_reference;
      grpo4j_batch b = make_batch(c, c.logits.data(), c.labels.data(), c.ref_logps.data(), c.group_ids.data(),
                                  c.group_sizes.data(), o.log_alpha.data(), grad.data(), host_output_pointers(o));
      grpo4j_exec exec{nullptr, is_cpu ? GRPO4J_BACKEND_CPU : GRPO4J_BACKEND_REFERENCE, 0};
      const auto start = std::chrono::steady_clock::now();
      const grpo4j_status status = grpo4j_loss_forward_backward(&c.options, &b, &exec);
      if (is_cpu) seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (status != GRPO4J_OK) {
        check.expect(false, grpo4j_last_error());
        return;
      }
    }
  }
  check.close("log_alpha after 2000 calls",
              std::vector<float>(cpu.log_alpha.begin(), cpu.log_alpha.end()),
              std::vector<float>(reference.log_alpha.begin(), reference.log_alpha.end()), 1e-6, 1e-5);
  check.close("grad", grad_cpu, grad_reference, 1e-7, 1e-5);
  printf("  %d CPU calls at B=300, T=1, V=8: %.2f us per call\n", calls, 1e6 * seconds / calls);
}

// Several caller threads at once share the pool; each gets the single-caller result.
void test_concurrent_callers(std::mt19937_64& rng, Checker& check) {
  Case c = random_case(rng, {4, 20, 2000, 3}, GRPO4J_F32, GRPO4J_I32, 1.0, 0.2, -1, -1);
  check.context = describe(c, "concurrent callers");
  const Outputs expected = run_host(c, GRPO4J_BACKEND_CPU, true, 2, false);
  std::vector<int> identical(4, 0);
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      int ok = 1;
      for (int i = 0; i < 5; ++i) ok &= bit_identical(expected, run_host(c, GRPO4J_BACKEND_CPU, true, 2 + t, false));
      identical[t] = ok;
    });
  }
  for (std::thread& caller : callers) caller.join();
  for (int t = 0; t < 4; ++t) check.expect(identical[t] == 1, "a concurrent caller got a different result");
}

}  // namespace

int main(int argc, char** argv) {
  const SeededTest tests[] = {
      {"shapes", test_shapes},
      {"loss_options", test_loss_options},
      {"loss_table", test_loss_table},
      {"large_logits", test_large_logits},
      {"low_precision", test_low_precision},
      {"forward_only", test_forward_only},
      {"in_place", test_in_place},
      {"large_gradient", test_large_gradient},
      {"determinism", test_determinism},
      {"sequence_logprobs", test_sequence_logprobs},
      {"label_errors", test_label_errors},
      {"non_finite_errors", test_non_finite_errors},
      {"group_errors", test_group_errors},
      {"many_small_calls", test_many_small_calls},
      {"concurrent_callers", test_concurrent_callers},
  };
  return run_seeded_tests("test_cpu_vs_reference", argc, argv, tests);
}
