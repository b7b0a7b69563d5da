// The phase API (grpo4j_loss_statistics -> grpo4j_group_step -> grpo4j_logits_gradient) on the CPU and REFERENCE
// backends: composed on one batch it gives the one-shot call's outputs bit for bit; a batch split in two shards
// whose group statistics are summed gives the whole batch's objective, group losses, weights and gradient (within
// rounding); bad group statistics are refused with a message, and the CUDA phases without a device report it.
// The CUDA phases themselves are tested against these backends by test_cuda_vs_reference.
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "test_util.h"

using namespace grpo4j_test;

namespace {

struct PhaseRun {
  Outputs out;
  std::vector<double> group_stats, group_coef;
};

grpo4j_exec exec_for(int32_t backend, int threads) { return grpo4j_exec{nullptr, backend, threads}; }

// Runs the three phases on the pairs [first, first + count) of c, with the given (already reduced) statistics
// if `stats` is not NULL; returns the shard's outputs (gradient of its rows only).
PhaseRun run_phases(const Case& whole, int64_t first, int64_t count, int32_t backend, const double* reduced,
                    bool update, std::vector<double>* log_alpha) {
  Case c = pair_slice(whole, first, count);
  PhaseRun run;
  resize_outputs(run.out, c);
  run.out.grad.assign(c.logits.size(), 0xA5);
  run.out.log_alpha = *log_alpha;
  grpo4j_batch b = make_batch(c, c.logits.data(), c.labels.data(), c.ref_logps.data(), c.group_ids.data(),
                              c.group_sizes.data(), run.out.log_alpha.data(), run.out.grad.data(),
                              host_output_pointers(run.out));
  const grpo4j_exec exec = exec_for(backend, 2);
  std::vector<uint8_t> workspace((size_t)grpo4j_workspace_bytes(c.rows(), c.seq_len));
  run.group_stats.assign((size_t)c.groups * GRPO4J_GROUP_STATS, NAN);
  run.group_coef.assign(c.groups, NAN);
  run.out.status = grpo4j_loss_statistics(&c.options, &b, run.group_stats.data(), workspace.data(), &exec);
  if (run.out.status == GRPO4J_OK)
    run.out.status = grpo4j_group_step(&c.options, &b, reduced ? reduced : run.group_stats.data(), update ? 1 : 0,
                                       run.group_coef.data(), &exec);
  if (run.out.status == GRPO4J_OK)
    run.out.status = grpo4j_logits_gradient(&b, workspace.data(), run.group_coef.data(), &exec);
  run.out.error = grpo4j_last_error();
  *log_alpha = run.out.log_alpha;
  return run;
}

bool same_bits(const void* a, const void* b, size_t bytes) { return memcmp(a, b, bytes) == 0; }

void test_composition_is_the_one_shot_call(std::mt19937_64& rng, Checker& check) {
  const Shape shapes[] = {{1, 1, 1, 1}, {3, 5, 7, 2}, {6, 9, 301, 4}, {4, 17, 1031, 3}};
  for (int32_t backend : {GRPO4J_BACKEND_CPU, GRPO4J_BACKEND_REFERENCE})
    for (Shape s : shapes)
      for (int32_t weighting : {GRPO4J_WEIGHTING_ROBUST, GRPO4J_WEIGHTING_IMPORTANCE_SAMPLING,
                                GRPO4J_WEIGHTING_AVERAGE})
        for (int32_t norm : {GRPO4J_NORM_BATCH_MEAN, GRPO4J_NORM_DATASET_FREQUENCY}) {
          Case c = random_case(rng, s, GRPO4J_BF16, GRPO4J_I64, 2.0, 0.2, s.pairs > 2 ? 1 : -1, 1);
          c.options.weighting = weighting;
          c.options.group_norm = norm;
          c.options.adjustment = 0.3;
          c.options.loss_type = (int32_t)(rng() % 2);
          check.context = std::string(backend == GRPO4J_BACKEND_CPU ? "cpu" : "reference") + " pairs " +
                          std::to_string(s.pairs) + " weighting " + std::to_string(weighting) + " norm " +
                          std::to_string(norm);
          Outputs one_shot = run_host(c, backend, true, 2, false);
          std::vector<double> log_alpha = c.log_alpha;
          PhaseRun phases = run_phases(c, 0, c.pairs, backend, nullptr, true, &log_alpha);
          if (!check.expect(one_shot.status == GRPO4J_OK && phases.out.status == GRPO4J_OK, "both calls succeed")) {
            fprintf(stderr, "  %s / %s\n", one_shot.error.c_str(), phases.out.error.c_str());
            continue;
          }
          check.expect(same_bits(&one_shot.loss, &phases.out.loss, sizeof(float)), "loss bit-identical");
          check.expect(same_bits(one_shot.pair_loss.data(), phases.out.pair_loss.data(), 4 * c.pairs),
                       "pair losses bit-identical");
          check.expect(same_bits(one_shot.group_loss.data(), phases.out.group_loss.data(), 4 * c.groups),
                       "group losses bit-identical");
          check.expect(same_bits(one_shot.group_weight.data(), phases.out.group_weight.data(), 4 * c.groups),
                       "group weights bit-identical");
          check.expect(same_bits(one_shot.group_margin.data(), phases.out.group_margin.data(), 4 * c.groups),
                       "group margins bit-identical");
          check.expect(same_bits(one_shot.log_alpha.data(), log_alpha.data(), 8 * c.groups),
                       "log alpha bit-identical");
          check.expect(one_shot.grad == phases.out.grad, "gradient bit-identical");
        }
}

void test_split_batches_sum_to_the_whole(std::mt19937_64& rng, Checker& check) {
  for (int32_t backend : {GRPO4J_BACKEND_CPU, GRPO4J_BACKEND_REFERENCE})
    for (int32_t weighting : {GRPO4J_WEIGHTING_ROBUST, GRPO4J_WEIGHTING_IMPORTANCE_SAMPLING,
                              GRPO4J_WEIGHTING_AVERAGE})
      for (int32_t norm : {GRPO4J_NORM_BATCH_MEAN, GRPO4J_NORM_DATASET_FREQUENCY})
        for (int32_t loss : {GRPO4J_LOSS_DPO, GRPO4J_LOSS_IPO}) {
          Case c = random_case(rng, Shape{8, 6, 97, 4}, GRPO4J_F32, GRPO4J_I32, 2.0, 0.2, -1, -1);
          // Group 3 only in the second shard, group 0 only in the first: shards with absent groups.
          c.group_ids = {0, 1, 2, 0, 1, 2, 3, 3};
          c.options.weighting = weighting;
          c.options.group_norm = norm;
          c.options.loss_type = loss;
          c.options.adjustment = 0.2;
          check.context = std::string(backend == GRPO4J_BACKEND_CPU ? "cpu" : "reference") + " split weighting " +
                          std::to_string(weighting) + " norm " + std::to_string(norm) + " loss " +
                          std::to_string(loss);
          Outputs whole = run_host(c, backend, true, 2, false);
          // Phase 1 on each shard, statistics summed (an all-reduce), phases 2 and 3 on each shard.
          std::vector<double> alpha_a = c.log_alpha, alpha_b = c.log_alpha, unused = c.log_alpha;
          PhaseRun first_stats = run_phases(c, 0, 4, backend, nullptr, false, &unused);
          unused = c.log_alpha;
          PhaseRun second_stats = run_phases(c, 4, 4, backend, nullptr, false, &unused);
          std::vector<double> reduced(first_stats.group_stats.size());
          for (size_t e = 0; e < reduced.size(); ++e)
            reduced[e] = first_stats.group_stats[e] + second_stats.group_stats[e];
          PhaseRun a = run_phases(c, 0, 4, backend, reduced.data(), true, &alpha_a);
          PhaseRun b = run_phases(c, 4, 4, backend, reduced.data(), true, &alpha_b);
          if (!check.expect(whole.status == GRPO4J_OK && a.out.status == GRPO4J_OK && b.out.status == GRPO4J_OK,
                            "all calls succeed"))
            continue;
          check.expect(same_bits(alpha_a.data(), alpha_b.data(), 8 * c.groups), "both shards' alpha identical");
          check.close("loss", &a.out.loss, &whole.loss, 1, 1e-6, 1e-5);
          check.close("group_loss", a.out.group_loss, whole.group_loss, 1e-6, 1e-5);
          check.close("group_weight", a.out.group_weight, whole.group_weight, 1e-7, 1e-5);
          std::vector<float> alpha_whole(whole.log_alpha.begin(), whole.log_alpha.end());
          std::vector<float> alpha_split(alpha_a.begin(), alpha_a.end());
          check.close("log_alpha", alpha_split, alpha_whole, 1e-7, 1e-6);
          const std::vector<uint8_t> joined = join_slice_grads(c, a.out.grad, 4, b.out.grad, 4);
          check.close_grad(c, joined, whole.grad, 1e-7, 1e-5);
        }
}

void test_bad_group_statistics(std::mt19937_64& rng, Checker& check) {
  Case c = random_case(rng, Shape{2, 3, 5, 2}, GRPO4J_F32, GRPO4J_I32, 1.0, 0.0, -1, -1);
  std::vector<double> log_alpha = c.log_alpha;
  grpo4j_batch b = make_batch(c, c.logits.data(), c.labels.data(), c.ref_logps.data(), c.group_ids.data(),
                              c.group_sizes.data(), log_alpha.data(), nullptr, grpo4j_outputs{});
  const grpo4j_exec exec = exec_for(GRPO4J_BACKEND_CPU, 1);
  std::vector<double> stats((size_t)c.groups * GRPO4J_GROUP_STATS, 0.0);
  const struct {
    int64_t element;
    double value;
    const char* needle;
  } cases[] = {{GRPO4J_STAT_PAIRS, 0.0, "count no pairs"},
               {GRPO4J_STAT_PAIRS, 1.5, "whole number"},
               {GRPO4J_STAT_PAIRS, -1.0, "whole number"},
               {GRPO4J_STAT_LOSS_SUM, NAN, "must be finite"}};
  for (const auto& bad : cases) {
    std::fill(stats.begin(), stats.end(), 0.0);
    // Group 1 holds one pair; the bad value goes into group 0 (a zero count there leaves no pair at all).
    stats[GRPO4J_GROUP_STATS + GRPO4J_STAT_PAIRS] = bad.value == 0.0 ? 0.0 : 1.0;
    stats[bad.element] = bad.value;
    check.context = bad.needle;
    const grpo4j_status status = grpo4j_group_step(&c.options, &b, stats.data(), 1, nullptr, &exec);
    check.expect(status != GRPO4J_OK, "refused");
    check.expect(strstr(grpo4j_last_error(), bad.needle) != nullptr, grpo4j_last_error());
  }
  check.expect(same_bits(c.log_alpha.data(), log_alpha.data(), 8 * c.groups), "log alpha untouched by refused steps");
  int32_t devices = 0;
  if (grpo4j_cuda_device_count(&devices) != GRPO4J_OK || devices == 0) {
    const grpo4j_exec cuda = exec_for(GRPO4J_BACKEND_CUDA, 1);
    check.context = "cuda without a device";
    check.expect(grpo4j_group_step(&c.options, &b, stats.data(), 1, nullptr, &cuda) == GRPO4J_NO_CUDA_DEVICE,
                 "the CUDA phases report the missing device");
    check.expect(strstr(grpo4j_last_error(), "CUDA") != nullptr, grpo4j_last_error());
  }
  check.expect(grpo4j_workspace_bytes(0, 5) == 0, "no workspace for no rows");
}

// The fused LM head's route: token log-probs -> sequence sums -> grpo4j_sequence_statistics -> group step ->
// grpo4j_sequence_gradient -> grpo4j_token_gradient with each row's coefficient at its positions. It must give what
// the logits route gives (the sums differ only in rounding the per-token log-probs to float first).
// The sequence route hands each position's log-prob and each row's sum s_r over as float, the one-shot call keeps
// them in double: s_r moves by up to 2^-23 * sum_t |log p_t|. What that shift does downstream bounds the tolerances;
// fixed ones fail on one seed in a few hundred, mostly for IPO, whose loss is quadratic in the margin.
struct FloatRoundingTolerance {
  double loss = 0.0;       // a pair's or a group's loss: |dl/ds_w| shift_w + |dl/ds_l| shift_l
  double log_alpha = 0.0;  // eta * that, plus as much again through the log-sum-exp normalisation
  double weight = 0.0;     // w_g = (1-chi)/K + chi alpha_g, alpha_g <= 1
  double grad = 0.0;       // coef_g * dl/ds_r * (p - onehot): dl/ds_r moves by its curvature times the pair's shifts
};

FloatRoundingTolerance float_rounding_tolerance(const Case& c, const std::vector<float>& token_logp,
                                                const std::vector<int32_t>& counts, const std::vector<double>& dloss,
                                                const std::vector<double>& coef) {
  const int64_t B = c.pairs;
  std::vector<double> shift(c.rows(), 0.0);
  for (int64_t r = 0; r < c.rows(); ++r)
    for (int64_t t = 0; t < c.seq_len; ++t) shift[r] += std::ldexp(std::fabs((double)token_logp[r * c.seq_len + t]), -23);
  // Second derivative of the pair loss in s: beta^2/4 for DPO, 2/(n_w n_l) <= 2 for IPO.
  const double curvature = c.options.loss_type == GRPO4J_LOSS_IPO ? 2.0 : c.options.beta * c.options.beta / 4.0;
  FloatRoundingTolerance tol;
  for (int64_t i = 0; i < B; ++i) {
    if (counts[i] == 0 && counts[B + i] == 0) continue;
    const double pair_shift = shift[i] + shift[B + i];
    tol.loss = std::max(tol.loss, std::fabs(dloss[i]) * shift[i] + std::fabs(dloss[B + i]) * shift[B + i]);
    // Doubled for the group weights' own shift.
    tol.grad = std::max(tol.grad, 2.0 * std::fabs(coef[c.group_ids[i]]) * curvature * pair_shift);
  }
  tol.log_alpha = 2.0 * c.options.eta * tol.loss;
  tol.weight = 2.0 * tol.log_alpha;
  return tol;
}

void test_sequence_route_is_the_logits_route(std::mt19937_64& rng, Checker& check) {
  const Shape shapes[] = {{1, 1, 1, 1}, {3, 1, 7, 2}, {5, 9, 301, 3}, {4, 17, 1031, 4}};
  for (int32_t backend : {GRPO4J_BACKEND_CPU, GRPO4J_BACKEND_REFERENCE})
    for (Shape s : shapes)
      for (int32_t loss : {GRPO4J_LOSS_DPO, GRPO4J_LOSS_IPO}) {
        Case c = random_case(rng, s, GRPO4J_F32, GRPO4J_I64, 4.0, 0.3, s.pairs > 2 ? 1 : -1, -1);
        c.options.loss_type = loss;
        c.options.ipo_length_norm = 1;
        c.options.adjustment = 0.25;
        check.context = std::string(backend == GRPO4J_BACKEND_CPU ? "cpu" : "reference") + " sequence route pairs " +
                        std::to_string(s.pairs) + " T " + std::to_string(s.seq_len) + " loss " + std::to_string(loss);
        const Outputs want = run_host(c, backend, true, 2, false);
        const grpo4j_exec exec = exec_for(backend, 2);
        const int64_t positions = c.rows() * c.seq_len;
        grpo4j_tokens tokens{c.logits.data(), c.labels.data(), c.rows(), c.seq_len, c.vocab, c.logits_type,
                             c.label_type};
        std::vector<double> stats_storage((size_t)positions + 2);
        std::vector<float> token_logp(positions, NAN);
        int32_t flags = -1;
        grpo4j_status status = grpo4j_token_logprobs(&tokens, stats_storage.data(), token_logp.data(), &flags, &exec);
        if (!check.expect(status == GRPO4J_OK && flags == 0, "token log-probs succeed")) continue;
        std::vector<float> logps(c.rows(), 0.f);
        std::vector<int32_t> counts(c.rows(), 0);
        for (int64_t r = 0; r < c.rows(); ++r) {
          double sum = 0.0;
          for (int64_t t = 0; t < c.seq_len; ++t) {
            const int64_t label = grpo4j::load_label(c.labels.data(), c.label_type, r * c.seq_len + t);
            if (label == GRPO4J_IGNORE_INDEX) {
              check.expect(token_logp[r * c.seq_len + t] == 0.f, "a masked position's log-prob is 0");
              continue;
            }
            sum += token_logp[r * c.seq_len + t];
            ++counts[r];
          }
          logps[r] = (float)sum;
        }
        Outputs got;
        resize_outputs(got, c);
        got.log_alpha = c.log_alpha;
        got.grad.assign(c.logits.size(), 0xA5);
        grpo4j_batch b = make_batch(c, nullptr, nullptr, c.ref_logps.data(), c.group_ids.data(), c.group_sizes.data(),
                                    got.log_alpha.data(), nullptr, host_output_pointers(got));
        std::vector<double> group_stats((size_t)c.groups * GRPO4J_GROUP_STATS), dloss(c.rows()), coef(c.groups);
        std::vector<float> row_coef(c.rows());
        status = grpo4j_sequence_statistics(&c.options, &b, logps.data(), counts.data(), group_stats.data(),
                                            dloss.data(), &exec);
        if (status == GRPO4J_OK)
          status = grpo4j_group_step(&c.options, &b, group_stats.data(), 1, coef.data(), &exec);
        // Phase 3 of the sequence route reads the group ids only: a stale or NULL reference pointer is fine.
        b.ref_logps = nullptr;
        if (status == GRPO4J_OK)
          status = grpo4j_sequence_gradient(&b, dloss.data(), coef.data(), row_coef.data(), &exec);
        std::vector<float> position_coef(positions);
        for (int64_t p = 0; p < positions; ++p) position_coef[p] = row_coef[p / c.seq_len];
        if (status == GRPO4J_OK)
          status = grpo4j_token_gradient(&tokens, stats_storage.data(), position_coef.data(), got.grad.data(), &exec);
        if (!check.expect(status == GRPO4J_OK, "the sequence route succeeds")) {
          fprintf(stderr, "  %s\n", grpo4j_last_error());
          continue;
        }
        const FloatRoundingTolerance tol = float_rounding_tolerance(c, token_logp, counts, dloss, coef);
        check.close("loss", &got.loss, &want.loss, 1, 1e-6 + tol.loss, 1e-5);
        check.close("pair_loss", got.pair_loss, want.pair_loss, 1e-6 + tol.loss, 1e-5);
        check.close("chosen_logp", got.pair_chosen_logp, want.pair_chosen_logp, 1e-5, 1e-6);
        check.close("group_loss", got.group_loss, want.group_loss, 1e-6 + tol.loss, 1e-5);
        check.close("group_weight", got.group_weight, want.group_weight, 1e-7 + tol.weight, 1e-5);
        std::vector<float> alpha_got(got.log_alpha.begin(), got.log_alpha.end());
        std::vector<float> alpha_want(want.log_alpha.begin(), want.log_alpha.end());
        check.close("log_alpha", alpha_got, alpha_want, 1e-7 + tol.log_alpha, 1e-5);
        check.close_grad(c, got.grad, want.grad, 1e-7 + tol.grad, 1e-5);
      }
}

void test_sequence_route_refuses_bad_input(std::mt19937_64& rng, Checker& check) {
  Case c = random_case(rng, Shape{2, 3, 5, 2}, GRPO4J_F32, GRPO4J_I32, 1.0, 0.0, -1, -1);
  std::vector<double> log_alpha = c.log_alpha;
  grpo4j_batch b = make_batch(c, nullptr, nullptr, c.ref_logps.data(), c.group_ids.data(), c.group_sizes.data(),
                              log_alpha.data(), nullptr, grpo4j_outputs{});
  const grpo4j_exec exec = exec_for(GRPO4J_BACKEND_CPU, 1);
  std::vector<double> stats((size_t)c.groups * GRPO4J_GROUP_STATS), dloss(c.rows());
  std::vector<float> logps(c.rows(), -3.f);
  logps[2] = NAN;
  check.context = "sequence statistics";
  check.expect(grpo4j_sequence_statistics(&c.options, &b, logps.data(), nullptr, stats.data(), dloss.data(), &exec) ==
                   GRPO4J_NON_FINITE_INPUT,
               "a NaN log-prob is refused");
  check.expect(strstr(grpo4j_last_error(), "logps[2]") != nullptr, grpo4j_last_error());
  logps[2] = -1.f;
  c.group_ids[1] = 7;
  check.expect(grpo4j_sequence_statistics(&c.options, &b, logps.data(), nullptr, stats.data(), dloss.data(), &exec) ==
                   GRPO4J_INVALID_ARGUMENT,
               "a group id out of range is refused");
  check.expect(grpo4j_sequence_statistics(&c.options, &b, nullptr, nullptr, stats.data(), dloss.data(), &exec) ==
                   GRPO4J_INVALID_ARGUMENT,
               "NULL log-probs are refused");
  grpo4j_tokens tokens{c.logits.data(), c.labels.data(), c.rows(), c.seq_len, c.vocab, c.logits_type, c.label_type};
  std::vector<float> coef(c.rows() * c.seq_len, 1.f), grad(c.elements());
  coef[3] = INFINITY;
  std::vector<double> token_stats(c.rows() * c.seq_len);
  check.context = "token gradient";
  check.expect(grpo4j_token_gradient(&tokens, token_stats.data(), coef.data(), grad.data(), &exec) ==
                   GRPO4J_NON_FINITE_INPUT,
               "a non-finite coefficient is refused");
  check.expect(strstr(grpo4j_last_error(), "coef[3]") != nullptr, grpo4j_last_error());
}

}  // namespace

int main(int argc, char** argv) {
  const SeededTest tests[] = {
      {"composition_is_the_one_shot_call", test_composition_is_the_one_shot_call},
      {"split_batches_sum_to_the_whole", test_split_batches_sum_to_the_whole},
      {"bad_group_statistics", test_bad_group_statistics},
      {"sequence_route_is_the_logits_route", test_sequence_route_is_the_logits_route},
      {"sequence_route_refuses_bad_input", test_sequence_route_refuses_bad_input},
  };
  return run_seeded_tests("test_loss_phases", argc, argv, tests);
}
