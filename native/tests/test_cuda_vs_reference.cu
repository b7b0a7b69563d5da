// The CUDA backend against the double-precision REFERENCE backend on random cases of awkward shapes, every
// option, in place, forward-only, grpo4j_sequence_logprobs, input flags, determinism (two runs bit-identical)
// and a large case per type (T = 2048, 2B = 8 rows = 16384 tokens, V = 128256; f32, bf16, f16) checked
// against the CPU backend and an exact host computation of the sequence log-probs.
//
//   test_cuda_vs_reference            all tests; exit 0 when all pass, 1 otherwise, 77 without a GPU
//   test_cuda_vs_reference --small    small shapes only (for compute-sanitizer)
//   test_cuda_vs_reference --dump DIR write a few cases' inputs and CUDA outputs for ci/torch_oracle.py
//
// Device memory goes through the library's own grpo4j_cuda_* helpers so that they are exercised too. The same
// source also builds against the CPU emulation of CUDA (cuda_emulation/), where ctest runs its --small cases.
#include <cuda_runtime.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fill_normal.cuh"
#include "test_util.h"

using namespace grpo4j_test;

namespace {

[[noreturn]] void die(const char* what, grpo4j_status status) {
  fprintf(stderr, "FATAL: %s: status %d: %s\n", what, (int)status, grpo4j_last_error());
  exit(1);
}

void require(grpo4j_status status, const char* what) {
  if (status != GRPO4J_OK) die(what, status);
}

void require_cuda(cudaError_t error, const char* what) {
  if (error != cudaSuccess) {
    fprintf(stderr, "FATAL: %s: %s\n", what, cudaGetErrorString(error));
    exit(1);
  }
}

// Device memory owned through grpo4j_cuda_malloc / grpo4j_cuda_free.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes) {
    require(grpo4j_cuda_malloc(&ptr_, (int64_t)(bytes ? bytes : 16)), "grpo4j_cuda_malloc");
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr_) require(grpo4j_cuda_free(ptr_), "grpo4j_cuda_free");
  }
  unsigned char* get() const { return static_cast<unsigned char*>(ptr_); }

 private:
  void* ptr_ = nullptr;
};

void upload(void* device, const void* host, size_t bytes) {
  if (bytes) require(grpo4j_cuda_memcpy(device, host, (int64_t)bytes, nullptr), "upload");
}

void download(void* host, const void* device, size_t bytes) {
  if (bytes) require(grpo4j_cuda_memcpy(host, device, (int64_t)bytes, nullptr), "download");
}

template <typename T>
void upload_vector(DeviceBuffer& device, const std::vector<T>& host) {
  upload(device.get(), host.data(), host.size() * sizeof(T));
}

template <typename T>
void download_vector(std::vector<T>& host, const DeviceBuffer& device) {
  download(host.data(), device.get(), host.size() * sizeof(T));
}

// How a CUDA call is made.
struct CudaRun {
  bool train = true;
  bool in_place = false;
  bool all_outputs = true;       // false: only loss and flags are requested, the rest NULL
  cudaStream_t stream = nullptr;
  size_t logits_offset = 0;      // bytes past a 256-byte aligned allocation
  size_t grad_offset = 0;
  bool phases = false;           // grpo4j_loss_statistics -> grpo4j_group_step -> grpo4j_logits_gradient
  const std::vector<double>* reduced = nullptr;  // phases: group statistics for the group step instead of this batch's
  std::vector<double>* statistics = nullptr;     // phases: receives this batch's group statistics
};

// The device-side mirror of an Outputs.
struct DeviceOutputs {
  DeviceBuffer loss, pair_loss, pair_margin, pair_chosen_reward, pair_rejected_reward, pair_chosen_logp,
      pair_rejected_logp, group_loss, group_weight, group_reward_accuracy, group_logp_accuracy, group_chosen_reward,
      group_rejected_reward, group_margin, group_count, flags;

  explicit DeviceOutputs(const Case& c)
      : loss(4), pair_loss(4 * c.pairs), pair_margin(4 * c.pairs), pair_chosen_reward(4 * c.pairs),
        pair_rejected_reward(4 * c.pairs), pair_chosen_logp(4 * c.pairs), pair_rejected_logp(4 * c.pairs),
        group_loss(4 * c.groups), group_weight(4 * c.groups), group_reward_accuracy(4 * c.groups),
        group_logp_accuracy(4 * c.groups), group_chosen_reward(4 * c.groups), group_rejected_reward(4 * c.groups),
        group_margin(4 * c.groups), group_count(4 * c.groups), flags(4) {}

  // (device, host) pairs of the float [B] and [K] outputs.
  template <typename F>
  void each(Outputs& o, F&& f) {
    f(pair_loss, o.pair_loss);
    f(pair_margin, o.pair_margin);
    f(pair_chosen_reward, o.pair_chosen_reward);
    f(pair_rejected_reward, o.pair_rejected_reward);
    f(pair_chosen_logp, o.pair_chosen_logp);
    f(pair_rejected_logp, o.pair_rejected_logp);
    f(group_loss, o.group_loss);
    f(group_weight, o.group_weight);
    f(group_reward_accuracy, o.group_reward_accuracy);
    f(group_logp_accuracy, o.group_logp_accuracy);
    f(group_chosen_reward, o.group_chosen_reward);
    f(group_rejected_reward, o.group_rejected_reward);
    f(group_margin, o.group_margin);
  }

  void poison(Outputs& o) {
    upload(loss.get(), &o.loss, 4);
    upload(flags.get(), &o.flags, 4);
    upload_vector(group_count, o.group_count);
    each(o, [](DeviceBuffer& d, std::vector<float>& h) { upload_vector(d, h); });
  }

  void fetch(Outputs& o) {
    download(&o.loss, loss.get(), 4);
    download(&o.flags, flags.get(), 4);
    download_vector(o.group_count, group_count);
    each(o, [](DeviceBuffer& d, std::vector<float>& h) { download_vector(h, d); });
  }

  grpo4j_outputs pointers(bool all) {
    grpo4j_outputs p{};
    p.loss = (float*)loss.get();
    p.flags = (int32_t*)flags.get();
    if (!all) return p;
    p.pair_loss = (float*)pair_loss.get();
    p.pair_margin = (float*)pair_margin.get();
    p.pair_chosen_reward = (float*)pair_chosen_reward.get();
    p.pair_rejected_reward = (float*)pair_rejected_reward.get();
    p.pair_chosen_logp = (float*)pair_chosen_logp.get();
    p.pair_rejected_logp = (float*)pair_rejected_logp.get();
    p.group_loss = (float*)group_loss.get();
    p.group_weight = (float*)group_weight.get();
    p.group_reward_accuracy = (float*)group_reward_accuracy.get();
    p.group_logp_accuracy = (float*)group_logp_accuracy.get();
    p.group_chosen_reward = (float*)group_chosen_reward.get();
    p.group_rejected_reward = (float*)group_rejected_reward.get();
    p.group_margin = (float*)group_margin.get();
    p.group_count = (int32_t*)group_count.get();
    return p;
  }
};

// Runs the CUDA backend on a copy of the case in device memory and brings every output back. The gradient
// buffer is poisoned (0xA5) first; in place it is the logits buffer.
Outputs run_cuda(const Case& c, const CudaRun& run) {
  Outputs o;
  resize_outputs(o, c);
  const size_t logit_bytes = c.logits.size();
  DeviceBuffer logits(logit_bytes + 16), labels(c.labels.size()), ref(4 * c.rows()), ids(4 * c.pairs),
      sizes(8 * c.groups), alpha(8 * c.groups), grad(logit_bytes + 16);
  unsigned char* logits_at = logits.get() + run.logits_offset;
  unsigned char* grad_at = run.in_place ? logits_at : grad.get() + run.grad_offset;
  upload(logits_at, c.logits.data(), logit_bytes);
  if (!run.in_place) require_cuda(cudaMemset(grad_at, 0xA5, logit_bytes), "poison grad");
  upload_vector(labels, c.labels);
  upload_vector(ref, c.ref_logps);
  upload_vector(ids, c.group_ids);
  upload_vector(sizes, c.group_sizes);
  upload_vector(alpha, c.log_alpha);
  DeviceOutputs out(c);
  out.poison(o);
  require(grpo4j_cuda_synchronize(nullptr), "synchronize before the call");

  grpo4j_batch b = make_batch(c, logits_at, labels.get(), (const float*)ref.get(), (const int32_t*)ids.get(),
                              (const int64_t*)sizes.get(), (double*)alpha.get(), grad_at, out.pointers(run.all_outputs));
  grpo4j_exec exec{(void*)run.stream, GRPO4J_BACKEND_CUDA, 0};
  const size_t stats_bytes = 8 * (size_t)c.groups * GRPO4J_GROUP_STATS;
  DeviceBuffer workspace(run.phases ? (size_t)grpo4j_workspace_bytes(c.rows(), c.seq_len) : 0),
      stats(run.phases ? stats_bytes : 0), reduced(run.phases ? stats_bytes : 0), coef(run.phases ? 8 * c.groups : 0);
  if (!run.phases) {
    o.status = run.train ? grpo4j_loss_forward_backward(&c.options, &b, &exec) : grpo4j_loss_forward(&c.options, &b, &exec);
  } else {
    o.status = grpo4j_loss_statistics(&c.options, &b, (double*)stats.get(), workspace.get(), &exec);
    const double* step_stats = (const double*)stats.get();
    if (run.reduced) {
      upload(reduced.get(), run.reduced->data(), stats_bytes);
      step_stats = (const double*)reduced.get();
    }
    if (o.status == GRPO4J_OK)
      o.status = grpo4j_group_step(&c.options, &b, step_stats, run.train ? 1 : 0, (double*)coef.get(), &exec);
    if (o.status == GRPO4J_OK && run.train)
      o.status = grpo4j_logits_gradient(&b, workspace.get(), (const double*)coef.get(), &exec);
  }
  o.error = grpo4j_last_error();
  require(grpo4j_cuda_synchronize((void*)run.stream), "synchronize after the call");
  if (run.statistics) {
    run.statistics->resize((size_t)c.groups * GRPO4J_GROUP_STATS);
    download(run.statistics->data(), stats.get(), stats_bytes);
  }

  out.fetch(o);
  download_vector(o.log_alpha, alpha);
  o.grad.resize(logit_bytes);
  download(o.grad.data(), grad_at, logit_bytes);
  return o;
}

double grad_rtol(int32_t logits_type) {
  // One rounding of the gradient to the logits type (2^-8 for bf16, 2^-11 for f16) may land on either side.
  return logits_type == GRPO4J_F32 ? 1e-5 : logits_type == GRPO4J_BF16 ? 1e-2 : 2e-3;
}

const char* type_name(int32_t t) { return t == GRPO4J_F32 ? "f32" : t == GRPO4J_BF16 ? "bf16" : "f16"; }

// Values at fp32 tolerance (the logits are the same numbers in both backends whatever their type), the
// gradient at the tolerance of its type, scaled by its largest reference element.
void compare(Checker& ck, const Case& c, const Outputs& cuda, const Outputs& ref, bool train) {
  ck.outputs(c, cuda, ref, false, 1e-5);
  if (!train || cuda.status != GRPO4J_OK || ref.status != GRPO4J_OK) return;
  double max_ref = 0;
  for (int64_t e = 0; e < c.elements(); ++e)
    max_ref = fmax(max_ref, fabs((double)grpo4j::load_logit(ref.grad.data(), c.logits_type, e)));
  const double rtol = grad_rtol(c.logits_type);
  ck.close_grad(c, cuda.grad, ref.grad, rtol * max_ref + 1e-30, rtol);
}

bool all_zero_grad(const Case& c, const std::vector<uint8_t>& grad) {
  for (int64_t e = 0; e < c.elements(); ++e)
    if (grpo4j::load_logit(grad.data(), c.logits_type, e) != 0.0f) return false;
  return true;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// Train and forward-only, each against the reference.
void check_case(Checker& ck, const Case& c, bool in_place = false) {
  const Outputs ref_train = run_host(c, GRPO4J_BACKEND_REFERENCE, true, 1, false);
  CudaRun run;
  run.in_place = in_place;
  const Outputs cuda_train = run_cuda(c, run);
  ck.expect(cuda_train.status == GRPO4J_OK, cuda_train.error.c_str());
  compare(ck, c, cuda_train, ref_train, true);

  const Outputs ref_eval = run_host(c, GRPO4J_BACKEND_REFERENCE, false, 1, false);
  run.train = false;
  run.in_place = false;
  const Outputs cuda_eval = run_cuda(c, run);
  compare(ck, c, cuda_eval, ref_eval, false);
  ck.expect(same_bits(cuda_eval.log_alpha, c.log_alpha), "forward-only changed log_alpha");
  ck.expect(std::all_of(cuda_eval.grad.begin(), cuda_eval.grad.end(), [](uint8_t v) { return v == 0xA5; }),
            "forward-only wrote the gradient buffer");
}

struct Test {
  std::string name;
  bool small;
  std::function<void(Checker&)> body;
};

std::vector<Test> g_tests;

void add(const std::string& name, bool small, std::function<void(Checker&)> body) {
  g_tests.push_back({name, small, std::move(body)});
}

Case make_case(uint64_t seed, Shape s, int32_t type, int32_t label_type = GRPO4J_I32, double scale = 1.0,
               double mask = 0.2, int64_t masked_row = -1, int32_t absent_group = -1) {
  std::mt19937_64 rng(seed);
  return random_case(rng, s, type, label_type, scale, mask, masked_row, absent_group);
}

const int32_t kTypes[] = {GRPO4J_F32, GRPO4J_BF16, GRPO4J_F16};

void register_shape_tests() {
  struct ShapeCase {
    const char* name;
    Shape shape;
    int64_t masked_row;
    int32_t absent_group;
    bool small;
  };
  // V = 1, 7, 8 (warp per position), 1001, 4097, 20011 (128 / 256 threads), 50257 (512 threads), T = 1, 47.
  const ShapeCase shapes[] = {
      {"V1_T1_K1", {1, 1, 1, 1}, -1, -1, true},
      {"V7_T5_K3_masked_row", {2, 5, 7, 3}, 1, -1, true},
      {"V8_T4_K2", {3, 4, 8, 2}, -1, -1, true},
      {"V33_T47_K7_absent_group", {2, 47, 33, 7}, -1, 3, true},
      {"V1001_T1_K1", {3, 1, 1001, 1}, -1, -1, true},
      {"V4097_T3_K4_masked_row", {2, 3, 4097, 4}, 2, 1, true},
      {"V20011_T2_K2", {2, 2, 20011, 2}, -1, -1, true},
      {"V50257_T3_K2", {2, 3, 50257, 2}, 3, -1, true},
      {"V32000_T64_K3", {4, 64, 32000, 3}, -1, -1, false},
  };
  uint64_t seed = 100;
  for (const ShapeCase& s : shapes) {
    for (int32_t type : kTypes) {
      const int32_t label_type = (seed & 1) ? GRPO4J_I64 : GRPO4J_I32;
      const uint64_t case_seed = seed++;
      add(std::string("shape_") + s.name + "_" + type_name(type), s.small, [=](Checker& ck) {
        check_case(ck, make_case(case_seed, s.shape, type, label_type, 1.0, 0.2, s.masked_row, s.absent_group));
      });
    }
  }
}

void register_option_tests() {
  struct Variant {
    const char* name;
    std::function<void(grpo4j_options&)> apply;
  };
  const Variant variants[] = {
      {"dpo_robust_batch_mean", [](grpo4j_options&) {}},
      {"dpo_robust_dataset_frequency", [](grpo4j_options& o) { o.group_norm = GRPO4J_NORM_DATASET_FREQUENCY; }},
      {"dpo_robust_adjustment",
       [](grpo4j_options& o) {
         o.adjustment = 0.7;
         o.group_norm = GRPO4J_NORM_DATASET_FREQUENCY;
       }},
      {"dpo_robust_adjustment_batch_mean", [](grpo4j_options& o) { o.adjustment = 1.5; }},
      {"dpo_robust_chi_0.3_eta_2",
       [](grpo4j_options& o) {
         o.chi = 0.3;
         o.eta = 2.0;
       }},
      {"dpo_robust_chi_0", [](grpo4j_options& o) { o.chi = 0.0; }},
      {"dpo_robust_eta_0", [](grpo4j_options& o) { o.eta = 0.0; }},
      {"dpo_label_smoothing",
       [](grpo4j_options& o) {
         o.label_smoothing = 0.2;
         o.beta = 0.5;
       }},
      {"dpo_importance_sampling", [](grpo4j_options& o) { o.weighting = GRPO4J_WEIGHTING_IMPORTANCE_SAMPLING; }},
      {"dpo_average", [](grpo4j_options& o) { o.weighting = GRPO4J_WEIGHTING_AVERAGE; }},
      {"ipo_robust",
       [](grpo4j_options& o) {
         o.loss_type = GRPO4J_LOSS_IPO;
         o.beta = 0.05;
         o.eta = 0.01;
       }},
      {"ipo_length_norm",
       [](grpo4j_options& o) {
         o.loss_type = GRPO4J_LOSS_IPO;
         o.ipo_length_norm = 1;
         o.beta = 0.5;
       }},
      {"ipo_importance_sampling_dataset_frequency",
       [](grpo4j_options& o) {
         o.loss_type = GRPO4J_LOSS_IPO;
         o.weighting = GRPO4J_WEIGHTING_IMPORTANCE_SAMPLING;
         o.group_norm = GRPO4J_NORM_DATASET_FREQUENCY;
         o.beta = 0.2;
       }},
      {"ipo_average_length_norm",
       [](grpo4j_options& o) {
         o.loss_type = GRPO4J_LOSS_IPO;
         o.weighting = GRPO4J_WEIGHTING_AVERAGE;
         o.ipo_length_norm = 1;
       }},
  };
  uint64_t loss_seed = 2000;
  for (const LossChoice& choice : loss_table_choices()) {
    const uint64_t case_seed = loss_seed++;
    auto apply = choice.apply;
    add("loss_table_" + choice.name, true, [=](Checker& ck) {
      Case c = make_case(case_seed, {7, 6, 257, 4}, GRPO4J_F32, GRPO4J_I64, 1.0, 0.3, 9, 2);
      apply(c.options);
      check_case(ck, c);
    });
  }
  uint64_t seed = 1000;
  for (const Variant& v : variants) {
    for (int32_t type : kTypes) {
      const uint64_t case_seed = seed++;
      auto apply = v.apply;
      add(std::string("options_") + v.name + "_" + type_name(type), true, [=](Checker& ck) {
        // One fully masked row and one absent group in every variant.
        Case c = make_case(case_seed, {5, 6, 301, 4}, type, GRPO4J_I64, 1.0, 0.3, 7, 2);
        apply(c.options);
        check_case(ck, c);
      });
    }
  }
}

void register_special_tests() {
  for (int32_t type : kTypes) {
    // f16 tops out at 65504, so its large-logit case uses 1e3 instead of 1e4.
    const double scale = type == GRPO4J_F16 ? 1e3 : 1e4;
    add(std::string("large_logits_") + type_name(type), true, [=](Checker& ck) {
      check_case(ck, make_case(77 + type, {2, 7, 1013, 2}, type, GRPO4J_I32, scale, 0.1));
    });
    add(std::string("in_place_") + type_name(type), true,
        [=](Checker& ck) { check_case(ck, make_case(300 + type, {3, 5, 2053, 3}, type), true); });
    add(std::string("in_place_V7_") + type_name(type), true,
        [=](Checker& ck) { check_case(ck, make_case(310 + type, {2, 9, 7, 2}, type), true); });
  }

  // Rows that begin with long runs of -inf (vocabulary masking): the online max must not turn them into NaN.
  for (int32_t type : kTypes) {
    add(std::string("negative_infinity_runs_") + type_name(type), true, [=](Checker& ck) {
      Case c = make_case(400 + type, {2, 3, 5003, 2}, type, GRPO4J_I32, 1.0, 0.0);
      std::mt19937_64 rng(401);
      for (int64_t p = 0; p < c.rows() * c.seq_len; ++p) {
        const int64_t run = (int64_t)(rng() % 5003);  // elements [0, run) become -inf
        int64_t label = c.vocab - 1 - (int64_t)(rng() % (c.vocab - run));
        for (int64_t v = 0; v < run; ++v) grpo4j::store_logit(c.logits.data(), type, p * c.vocab + v, -INFINITY);
        ((int32_t*)c.labels.data())[p] = (int32_t)label;
      }
      check_case(ck, c);
    });
  }

  add("null_outputs_and_stream", true, [](Checker& ck) {
    const Case c = make_case(500, {3, 6, 1999, 3}, GRPO4J_BF16);
    const Outputs ref = run_host(c, GRPO4J_BACKEND_REFERENCE, true, 1, false);
    cudaStream_t stream;
    require_cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
    CudaRun run;
    run.all_outputs = false;
    run.stream = stream;
    const Outputs cuda = run_cuda(c, run);
    require_cuda(cudaStreamDestroy(stream), "cudaStreamDestroy");
    ck.expect(cuda.status == GRPO4J_OK, cuda.error.c_str());
    ck.close("loss", &cuda.loss, &ref.loss, 1, 1e-6, 1e-5);
    ck.expect(cuda.flags == 0, "flags set");
    ck.expect(std::all_of(cuda.pair_loss.begin(), cuda.pair_loss.end(), [](float v) { return isnan(v); }),
              "a NULL output was written");
    ck.expect(cuda.group_count == std::vector<int32_t>(c.groups, -1), "a NULL output was written");
    const double rtol = grad_rtol(c.logits_type);
    double max_ref = 0;
    for (int64_t e = 0; e < c.elements(); ++e)
      max_ref = fmax(max_ref, fabs((double)grpo4j::load_logit(ref.grad.data(), c.logits_type, e)));
    ck.close_grad(c, cuda.grad, ref.grad, rtol * max_ref, rtol);
    ck.close("log_alpha", std::vector<float>(cuda.log_alpha.begin(), cuda.log_alpha.end()),
             std::vector<float>(ref.log_alpha.begin(), ref.log_alpha.end()), 1e-6, 1e-5);
  });

  // Buffers off 16-byte alignment: different alignment of logits and grad takes the element-store path.
  for (int32_t type : kTypes) {
    add(std::string("misaligned_buffers_") + type_name(type), true, [=](Checker& ck) {
      const Case c = make_case(600 + type, {2, 4, 1024, 2}, type);
      const Outputs ref = run_host(c, GRPO4J_BACKEND_REFERENCE, true, 1, false);
      const size_t esize = (size_t)grpo4j::element_size(type);
      const size_t offsets[][2] = {{esize, 3 * esize}, {3 * esize, 3 * esize}, {0, esize}};
      for (const auto& off : offsets) {
        CudaRun run;
        run.logits_offset = off[0];
        run.grad_offset = off[1];
        compare(ck, c, run_cuda(c, run), ref, true);
      }
    });
  }

  add("sequence_logprobs", true, [](Checker& ck) {
    for (int32_t type : kTypes) {
      const Case c = make_case(700 + type, {3, 11, 3001, 2}, type, GRPO4J_I64, 1.0, 0.3, 2);
      grpo4j_tokens tk{c.logits.data(), c.labels.data(), c.rows(), c.seq_len, c.vocab, c.logits_type, c.label_type};
      std::vector<float> ref_logps(c.rows()), logps(c.rows(), NAN);
      std::vector<int32_t> ref_counts(c.rows()), counts(c.rows(), -1);
      int32_t ref_flags = -1, flags = -1;
      grpo4j_exec ref_exec{nullptr, GRPO4J_BACKEND_REFERENCE, 1};
      require(grpo4j_sequence_logprobs(&tk, ref_logps.data(), ref_counts.data(), &ref_flags, &ref_exec), "reference");
      DeviceBuffer logits(c.logits.size()), labels(c.labels.size()), d_logps(4 * c.rows()), d_counts(4 * c.rows()),
          d_flags(4);
      upload_vector(logits, c.logits);
      upload_vector(labels, c.labels);
      grpo4j_tokens dtk = tk;
      dtk.logits = logits.get();
      dtk.labels = labels.get();
      grpo4j_exec exec{nullptr, GRPO4J_BACKEND_CUDA, 0};
      const grpo4j_status status =
          grpo4j_sequence_logprobs(&dtk, (float*)d_logps.get(), (int32_t*)d_counts.get(), (int32_t*)d_flags.get(), &exec);
      ck.expect(status == GRPO4J_OK, grpo4j_last_error());
      require(grpo4j_cuda_synchronize(nullptr), "synchronize");
      download_vector(logps, d_logps);
      download_vector(counts, d_counts);
      download(&flags, d_flags.get(), 4);
      ck.close("logps", logps, ref_logps, 1e-5 * (double)c.seq_len * (1.0 + log((double)c.vocab)), 1e-5);
      ck.expect(counts == ref_counts, "token counts differ");
      ck.expect(flags == 0 && ref_flags == 0, "flags set");
      // Without the optional outputs.
      const grpo4j_status bare = grpo4j_sequence_logprobs(&dtk, (float*)d_logps.get(), nullptr, nullptr, &exec);
      ck.expect(bare == GRPO4J_OK, grpo4j_last_error());
      require(grpo4j_cuda_synchronize(nullptr), "synchronize");
    }
  });

  add("host_pointer_rejected", true, [](Checker& ck) {
    const Case c = make_case(800, {1, 2, 16, 1}, GRPO4J_F32);
    Outputs o;
    resize_outputs(o, c);
    std::vector<uint8_t> grad(c.logits.size());
    grpo4j_batch b = make_batch(c, c.logits.data(), c.labels.data(), c.ref_logps.data(), c.group_ids.data(),
                                c.group_sizes.data(), o.log_alpha.data(), grad.data(), grpo4j_outputs{});
    grpo4j_exec exec{nullptr, GRPO4J_BACKEND_CUDA, 0};
    ck.expect(grpo4j_loss_forward_backward(&c.options, &b, &exec) == GRPO4J_INVALID_ARGUMENT,
              "host memory passed to the CUDA backend was not rejected");
    ck.expect(strstr(grpo4j_last_error(), "host memory") != nullptr, grpo4j_last_error());
    ck.expect(grpo4j_cuda_compiled() == 1, "grpo4j_cuda_compiled() != 1");
    // The context must still be usable afterwards.
    check_case(ck, make_case(801, {1, 3, 17, 1}, GRPO4J_F32));
  });
}

// A case whose inputs are broken in one place; the CUDA call must succeed, raise `expected` in flags, leave
// log_alpha untouched and write a zero gradient; the reference must report the same flag.
void check_flag(Checker& ck, const Case& c, int32_t expected) {
  const Outputs ref = run_host(c, GRPO4J_BACKEND_REFERENCE, true, 1, false);
  CudaRun run;
  const Outputs cuda = run_cuda(c, run);
  ck.expect(cuda.status == GRPO4J_OK, "the CUDA call should report input problems through flags only");
  ck.expect(ref.status != GRPO4J_OK, "the reference accepted broken inputs");
  if (cuda.flags != expected || ref.flags != expected)
    fprintf(stderr, "  flags: cuda %d reference %d expected %d\n", cuda.flags, ref.flags, expected);
  ck.expect(cuda.flags == expected, "CUDA flags");
  ck.expect(ref.flags == expected, "reference flags");
  ck.expect(same_bits(cuda.log_alpha, c.log_alpha), "log_alpha changed although a flag was set");
  ck.expect(all_zero_grad(c, cuda.grad), "gradient not zero although a flag was set");
}

void set_label(Case& c, int64_t p, int64_t label) {
  if (c.label_type == GRPO4J_I64)
    ((int64_t*)c.labels.data())[p] = label;
  else
    ((int32_t*)c.labels.data())[p] = (int32_t)label;
}

int64_t get_label(const Case& c, int64_t p) { return grpo4j::load_label(c.labels.data(), c.label_type, p); }

// First position of the case with a real label.
int64_t labelled_position(const Case& c) {
  for (int64_t p = 0; p < c.rows() * c.seq_len; ++p)
    if (get_label(c, p) != GRPO4J_IGNORE_INDEX) return p;
  return 0;
}

void register_flag_tests() {
  for (int32_t type : kTypes) {
    const std::string t = type_name(type);
    add("flag_label_too_large_" + t, true, [=](Checker& ck) {
      Case c = make_case(900 + type, {2, 5, 301, 2}, type);
      set_label(c, 7, c.vocab);
      check_flag(ck, c, GRPO4J_FLAG_LABEL_RANGE);
    });
    add("flag_label_negative_" + t, true, [=](Checker& ck) {
      Case c = make_case(910 + type, {2, 5, 8, 2}, type, GRPO4J_I64);
      set_label(c, 3, -7);
      check_flag(ck, c, GRPO4J_FLAG_LABEL_RANGE);
    });
    add("flag_nan_logit_" + t, true, [=](Checker& ck) {
      Case c = make_case(920 + type, {2, 5, 3001, 2}, type);
      const int64_t p = labelled_position(c);
      const int64_t v = (get_label(c, p) + 1234) % c.vocab;
      grpo4j::store_logit(c.logits.data(), type, p * c.vocab + v, NAN);
      check_flag(ck, c, GRPO4J_FLAG_NON_FINITE);
    });
    add("flag_infinite_logit_" + t, true, [=](Checker& ck) {
      Case c = make_case(930 + type, {2, 5, 77, 2}, type);
      const int64_t p = labelled_position(c);
      grpo4j::store_logit(c.logits.data(), type, p * c.vocab + (get_label(c, p) + 3) % c.vocab, INFINITY);
      check_flag(ck, c, GRPO4J_FLAG_NON_FINITE);
    });
    add("nan_at_masked_position_is_ignored_" + t, true, [=](Checker& ck) {
      Case c = make_case(940 + type, {2, 5, 301, 2}, type, GRPO4J_I32, 1.0, 0.0);
      set_label(c, 4, GRPO4J_IGNORE_INDEX);
      for (int64_t v = 0; v < c.vocab; ++v) grpo4j::store_logit(c.logits.data(), type, 4 * c.vocab + v, NAN);
      check_case(ck, c);
    });
  }
  add("flag_group_id_too_large", true, [](Checker& ck) {
    Case c = make_case(950, {3, 4, 64, 3}, GRPO4J_F32);
    c.group_ids[1] = 3;
    check_flag(ck, c, GRPO4J_FLAG_GROUP_RANGE);
  });
  add("flag_group_id_negative", true, [](Checker& ck) {
    Case c = make_case(951, {3, 4, 64, 3}, GRPO4J_BF16);
    c.group_ids[2] = -1;
    check_flag(ck, c, GRPO4J_FLAG_GROUP_RANGE);
  });
  add("flag_group_size_zero", true, [](Checker& ck) {
    Case c = make_case(952, {3, 4, 64, 3}, GRPO4J_F32);
    c.options.group_norm = GRPO4J_NORM_DATASET_FREQUENCY;
    c.group_sizes[1] = 0;
    check_flag(ck, c, GRPO4J_FLAG_GROUP_SIZE);
  });
  add("group_size_zero_unused_is_fine", true, [](Checker& ck) {
    Case c = make_case(953, {3, 4, 64, 3}, GRPO4J_F32);
    c.group_sizes[1] = 0;  // BATCH_MEAN, ROBUST, no adjustment: N_g is never read
    check_case(ck, c);
  });
  add("flag_sequence_logprobs_label", true, [](Checker& ck) {
    Case c = make_case(954, {2, 3, 40, 1}, GRPO4J_F32);
    set_label(c, 5, 40);
    DeviceBuffer logits(c.logits.size()), labels(c.labels.size()), logps(4 * c.rows()), flags(4);
    upload_vector(logits, c.logits);
    upload_vector(labels, c.labels);
    grpo4j_tokens tk{logits.get(), labels.get(), c.rows(), c.seq_len, c.vocab, c.logits_type, c.label_type};
    grpo4j_exec exec{nullptr, GRPO4J_BACKEND_CUDA, 0};
    ck.expect(grpo4j_sequence_logprobs(&tk, (float*)logps.get(), nullptr, (int32_t*)flags.get(), &exec) == GRPO4J_OK,
              grpo4j_last_error());
    require(grpo4j_cuda_synchronize(nullptr), "synchronize");
    int32_t f = -1;
    download(&f, flags.get(), 4);
    ck.expect(f == GRPO4J_FLAG_LABEL_RANGE, "sequence_logprobs flags");
  });
}

bool identical(const Outputs& a, const Outputs& b) {
  auto same = [](const auto& x, const auto& y) {
    return x.size() == y.size() && memcmp(x.data(), y.data(), x.size() * sizeof(x[0])) == 0;
  };
  return a.status == b.status && memcmp(&a.loss, &b.loss, 4) == 0 && a.flags == b.flags &&
         same(a.pair_loss, b.pair_loss) && same(a.pair_margin, b.pair_margin) &&
         same(a.pair_chosen_reward, b.pair_chosen_reward) && same(a.pair_rejected_reward, b.pair_rejected_reward) &&
         same(a.pair_chosen_logp, b.pair_chosen_logp) && same(a.pair_rejected_logp, b.pair_rejected_logp) &&
         same(a.group_loss, b.group_loss) && same(a.group_weight, b.group_weight) &&
         same(a.group_reward_accuracy, b.group_reward_accuracy) && same(a.group_logp_accuracy, b.group_logp_accuracy) &&
         same(a.group_chosen_reward, b.group_chosen_reward) &&
         same(a.group_rejected_reward, b.group_rejected_reward) && same(a.group_margin, b.group_margin) &&
         same(a.group_count, b.group_count) && same(a.log_alpha, b.log_alpha) && same(a.grad, b.grad);
}

void register_determinism_tests() {
  for (int32_t type : kTypes) {
    add(std::string("determinism_") + type_name(type), true, [=](Checker& ck) {
      const Case c = make_case(1100 + type, {4, 16, 5003, 3}, type, GRPO4J_I32, 1.0, 0.2);
      CudaRun run;
      const Outputs a = run_cuda(c, run), b = run_cuda(c, run);
      ck.expect(identical(a, b), "two runs on the same inputs differ");
    });
  }
  add("determinism_V32000_T64_bf16", false, [](Checker& ck) {
    const Case c = make_case(1200, {4, 64, 32000, 3}, GRPO4J_BF16);
    CudaRun run;
    const Outputs a = run_cuda(c, run), b = run_cuda(c, run);
    ck.expect(identical(a, b), "two runs on the same inputs differ");
  });
}

// ---- the phase API ---------------------------------------------------------------------------------------

void register_phase_tests() {
  const Shape shapes[] = {{1, 1, 1, 1}, {3, 5, 7, 2}, {6, 9, 301, 4}, {4, 17, 5003, 3}};
  for (int32_t type : kTypes)
    for (Shape s : shapes)
      for (int32_t weighting : {GRPO4J_WEIGHTING_ROBUST, GRPO4J_WEIGHTING_IMPORTANCE_SAMPLING, GRPO4J_WEIGHTING_AVERAGE})
        add(std::string("phases_are_the_one_shot_") + type_name(type) + "_B" + std::to_string(s.pairs) + "_V" +
                std::to_string(s.vocab) + "_w" + std::to_string(weighting),
            true, [=](Checker& ck) {
              Case c = make_case(1300 + 7 * type + (uint64_t)s.vocab + weighting, s, type, GRPO4J_I64, 2.0, 0.2);
              c.options.weighting = weighting;
              c.options.group_norm = s.pairs % 2 ? GRPO4J_NORM_DATASET_FREQUENCY : GRPO4J_NORM_BATCH_MEAN;
              c.options.adjustment = 0.3;
              CudaRun one_shot, phases;
              phases.phases = true;
              const Outputs a = run_cuda(c, one_shot), b = run_cuda(c, phases);
              ck.expect(a.status == GRPO4J_OK && b.status == GRPO4J_OK, "both calls succeed");
              ck.expect(identical(a, b), "the composed phases differ from the one-shot call");
              compare(ck, c, b, run_host(c, GRPO4J_BACKEND_REFERENCE, true, 1, false), true);
            });

  for (int32_t weighting : {GRPO4J_WEIGHTING_ROBUST, GRPO4J_WEIGHTING_IMPORTANCE_SAMPLING, GRPO4J_WEIGHTING_AVERAGE})
    for (int32_t norm : {GRPO4J_NORM_BATCH_MEAN, GRPO4J_NORM_DATASET_FREQUENCY})
      add("phases_split_batches_sum_to_the_whole_w" + std::to_string(weighting) + "_n" + std::to_string(norm), true,
          [=](Checker& ck) {
            Case c = make_case(1400 + 3 * weighting + norm, {8, 6, 97, 4}, GRPO4J_F32, GRPO4J_I32, 2.0, 0.2);
            c.group_ids = {0, 1, 2, 0, 1, 2, 3, 3};  // group 0 only in the first shard, group 3 only in the second
            c.options.weighting = weighting;
            c.options.group_norm = norm;
            c.options.adjustment = 0.2;
            const Outputs whole = run_host(c, GRPO4J_BACKEND_REFERENCE, true, 1, false);
            const Case first = pair_slice(c, 0, 4), second = pair_slice(c, 4, 4);
            std::vector<double> first_stats, second_stats;
            CudaRun statistics;
            statistics.phases = true;
            statistics.train = false;
            statistics.statistics = &first_stats;
            run_cuda(first, statistics);
            statistics.statistics = &second_stats;
            run_cuda(second, statistics);
            std::vector<double> reduced(first_stats.size());
            for (size_t e = 0; e < reduced.size(); ++e) reduced[e] = first_stats[e] + second_stats[e];
            CudaRun step;
            step.phases = true;
            step.reduced = &reduced;
            const Outputs a = run_cuda(first, step), b = run_cuda(second, step);
            ck.expect(a.status == GRPO4J_OK && b.status == GRPO4J_OK && a.flags == 0 && b.flags == 0,
                      "the shards' calls succeed");
            ck.expect(same_bits(a.log_alpha, b.log_alpha), "both shards' alpha identical");
            ck.close("loss", &a.loss, &whole.loss, 1, 1e-6, 1e-5);
            ck.close("group_loss", a.group_loss, whole.group_loss, 1e-6, 1e-5);
            ck.close("group_weight", a.group_weight, whole.group_weight, 1e-7, 1e-5);
            ck.close_grad(c, join_slice_grads(c, a.grad, 4, b.grad, 4), whole.grad, 1e-7, 1e-5);
          });

  for (int32_t type : kTypes)
    add(std::string("sequence_route_") + type_name(type), true, [=](Checker& ck) {
      // The fused LM head's route on the device: token passes, sums per row on the host, sequence statistics, group
      // step, dJ/ds per row, token gradient; against the reference backend's one-shot call.
      const Case c = make_case(1600 + type, {4, 9, 301, 3}, type, GRPO4J_I64, 2.0, 0.2);
      const Outputs want = run_host(c, GRPO4J_BACKEND_REFERENCE, true, 1, false);
      const int64_t positions = c.rows() * c.seq_len;
      DeviceBuffer logits(c.logits.size()), labels(c.labels.size()), stats(8 * positions), logps(4 * positions),
          flags(4), grad(c.logits.size());
      upload_vector(logits, c.logits);
      upload_vector(labels, c.labels);
      const grpo4j_exec exec{nullptr, GRPO4J_BACKEND_CUDA, 0};
      grpo4j_tokens tokens{logits.get(), labels.get(), c.rows(), c.seq_len, c.vocab, c.logits_type, c.label_type};
      require(grpo4j_token_logprobs(&tokens, stats.get(), (float*)logps.get(), (int32_t*)flags.get(), &exec),
              "token log-probs");
      std::vector<float> token_logp(positions);
      download(token_logp.data(), logps.get(), 4 * positions);
      std::vector<float> row_logp(c.rows(), 0.f);
      std::vector<int32_t> counts(c.rows(), 0);
      for (int64_t r = 0; r < c.rows(); ++r) {
        double sum = 0.0;
        for (int64_t t = 0; t < c.seq_len; ++t) {
          if (get_label(c, r * c.seq_len + t) == GRPO4J_IGNORE_INDEX) continue;
          sum += token_logp[r * c.seq_len + t];
          ++counts[r];
        }
        row_logp[r] = (float)sum;
      }
      DeviceBuffer seq(4 * c.rows()), cnt(4 * c.rows()), ref(4 * c.rows()), ids(4 * c.pairs), sizes(8 * c.groups),
          alpha(8 * c.groups), group_stats(8 * c.groups * GRPO4J_GROUP_STATS), dloss(8 * c.rows()), coef(8 * c.groups),
          row_coef(4 * c.rows()), position_coef(4 * positions);
      upload_vector(seq, row_logp);
      upload_vector(cnt, counts);
      upload_vector(ref, c.ref_logps);
      upload_vector(ids, c.group_ids);
      upload_vector(sizes, c.group_sizes);
      upload_vector(alpha, c.log_alpha);
      Outputs got;
      resize_outputs(got, c);
      DeviceOutputs out(c);
      out.poison(got);
      grpo4j_batch b = make_batch(c, nullptr, nullptr, (const float*)ref.get(), (const int32_t*)ids.get(),
                                  (const int64_t*)sizes.get(), (double*)alpha.get(), nullptr, out.pointers(true));
      require(grpo4j_sequence_statistics(&c.options, &b, (const float*)seq.get(), (const int32_t*)cnt.get(),
                                         (double*)group_stats.get(), (double*)dloss.get(), &exec),
              "sequence statistics");
      require(grpo4j_group_step(&c.options, &b, (const double*)group_stats.get(), 1, (double*)coef.get(), &exec),
              "group step");
      require(grpo4j_sequence_gradient(&b, (const double*)dloss.get(), (const double*)coef.get(),
                                       (float*)row_coef.get(), &exec),
              "sequence gradient");
      std::vector<float> rows(c.rows()), per_position(positions);
      download(rows.data(), row_coef.get(), 4 * c.rows());
      for (int64_t p = 0; p < positions; ++p) per_position[p] = rows[p / c.seq_len];
      upload_vector(position_coef, per_position);
      require(grpo4j_token_gradient(&tokens, stats.get(), (const float*)position_coef.get(), grad.get(), &exec),
              "token gradient");
      require(grpo4j_cuda_synchronize(nullptr), "synchronize");
      out.fetch(got);
      got.log_alpha.resize(c.groups);
      download_vector(got.log_alpha, alpha);
      got.grad.resize(c.logits.size());
      download(got.grad.data(), grad.get(), c.logits.size());
      ck.expect(got.flags == 0, "no flags");
      ck.close("loss", &got.loss, &want.loss, 1, 1e-5, 1e-4);
      ck.close("group_loss", got.group_loss, want.group_loss, 1e-5, 1e-4);
      ck.close("group_weight", got.group_weight, want.group_weight, 1e-6, 1e-4);
      ck.close_grad(c, got.grad, want.grad, 1e-6, grad_rtol(c.logits_type));
    });

  add("phases_bad_group_statistics_flag", true, [](Checker& ck) {
    const Case c = make_case(1500, {2, 3, 5, 2}, GRPO4J_F32);
    std::vector<double> no_pairs((size_t)c.groups * GRPO4J_GROUP_STATS, 0.0);
    CudaRun run;
    run.phases = true;
    run.reduced = &no_pairs;
    const Outputs o = run_cuda(c, run);
    ck.expect(o.status == GRPO4J_OK, "reported through flags only");
    ck.expect(o.flags == GRPO4J_FLAG_GROUP_STATS, "GROUP_STATS flag");
    ck.expect(same_bits(o.log_alpha, c.log_alpha), "log_alpha changed although a flag was set");
    ck.expect(all_zero_grad(c, o.grad), "gradient not zero although a flag was set");
  });
}

// ---- the large case -------------------------------------------------------------------------------------

// Exact (double) sequence log-probs of every row, on all host cores.
std::vector<double> exact_row_logprobs(const Case& c) {
  const int64_t positions = c.rows() * c.seq_len;
  std::vector<double> position_logp(positions, 0.0);
  std::atomic<int64_t> next{0};
  auto work = [&]() {
    for (int64_t p; (p = next.fetch_add(1)) < positions;) {
      const int64_t label = get_label(c, p);
      if (label == GRPO4J_IGNORE_INDEX) continue;
      const int64_t base = p * c.vocab;
      double m = -INFINITY;
      for (int64_t v = 0; v < c.vocab; ++v) m = fmax(m, (double)grpo4j::load_logit(c.logits.data(), c.logits_type, base + v));
      double sum = 0.0;
      for (int64_t v = 0; v < c.vocab; ++v) sum += exp((double)grpo4j::load_logit(c.logits.data(), c.logits_type, base + v) - m);
      position_logp[p] = (double)grpo4j::load_logit(c.logits.data(), c.logits_type, base + label) - m - log(sum);
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < std::max(1u, std::thread::hardware_concurrency()); ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  std::vector<double> rows(c.rows(), 0.0);
  for (int64_t p = 0; p < positions; ++p) rows[p / c.seq_len] += position_logp[p];
  return rows;
}

// Gradient comparison scaled by the largest reference element, on all host cores, without copies.
void compare_grad_parallel(Checker& ck, const Case& c, const std::vector<uint8_t>& got,
                           const std::vector<uint8_t>& want, double rtol) {
  const int64_t n = c.elements();
  const unsigned threads_n = std::max(1u, std::thread::hardware_concurrency());
  std::vector<double> maxima(threads_n, 0.0);
  std::vector<int64_t> bad(threads_n, 0), first_bad(threads_n, -1);
  auto run = [&](auto&& body) {
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < threads_n; ++t)
      threads.emplace_back([&, t]() { body(t, n * t / threads_n, n * (t + 1) / threads_n); });
    for (auto& th : threads) th.join();
  };
  run([&](unsigned t, int64_t lo, int64_t hi) {
    for (int64_t e = lo; e < hi; ++e)
      maxima[t] = fmax(maxima[t], fabs((double)grpo4j::load_logit(want.data(), c.logits_type, e)));
  });
  const double atol = rtol * *std::max_element(maxima.begin(), maxima.end());
  run([&](unsigned t, int64_t lo, int64_t hi) {
    for (int64_t e = lo; e < hi; ++e) {
      const double a = grpo4j::load_logit(got.data(), c.logits_type, e);
      const double r = grpo4j::load_logit(want.data(), c.logits_type, e);
      if (!(fabs(a - r) <= atol + rtol * fabs(r))) {
        if (first_bad[t] < 0) first_bad[t] = e;
        ++bad[t];
      }
    }
  });
  int64_t total = 0;
  for (int64_t b : bad) total += b;
  for (unsigned t = 0; t < threads_n; ++t) {
    if (first_bad[t] < 0) continue;
    const int64_t e = first_bad[t];
    fprintf(stderr, "  MISMATCH %s grad[%lld]: got %.9g want %.9g\n", ck.context.c_str(), (long long)e,
            (double)grpo4j::load_logit(got.data(), c.logits_type, e),
            (double)grpo4j::load_logit(want.data(), c.logits_type, e));
    break;
  }
  if (total) {
    fprintf(stderr, "  %s grad: %lld of %lld elements outside atol %.3g rtol %.3g\n", ck.context.c_str(),
            (long long)total, (long long)n, atol, rtol);
    ++ck.failures;
  }
}

void register_large_tests() {
  for (int32_t type : {GRPO4J_F32, GRPO4J_BF16, GRPO4J_F16}) {
    add(std::string("large_T2048_rows8_V128256_") + type_name(type), false, [type](Checker& ck) {
      using clock = std::chrono::steady_clock;
      const auto start = clock::now();
      auto seconds = [&]() { return std::chrono::duration<double>(clock::now() - start).count(); };
      Case c = make_case(2000 + type, {4, 2048, 1, 3}, type, GRPO4J_I32, 1.0, 0.0);
      c.vocab = 128256;
      c.logits.resize((size_t)c.elements() * grpo4j::element_size(type));
      {
        DeviceBuffer generated(c.logits.size());
        GRPO4J_LAUNCH(4096, 256, 0, nullptr, grpo4j_test::fill_normal)(generated.get(), c.logits_type, c.elements(), 2024, 2.0f);
        require_cuda(cudaGetLastError(), "fill_normal");
        download(c.logits.data(), generated.get(), c.logits.size());
        require(grpo4j_cuda_synchronize(nullptr), "synchronize");
      }
      // Prompt-like masked prefixes of different lengths, and padding at the end of one row.
      std::mt19937_64 rng(2001);
      for (int64_t r = 0; r < c.rows(); ++r) {
        const int64_t prompt = (int64_t)(rng() % 300);
        for (int64_t t = 0; t < c.seq_len; ++t) {
          const int64_t label = (t < prompt || (r == 5 && t > 1500)) ? GRPO4J_IGNORE_INDEX : (int64_t)(rng() % c.vocab);
          set_label(c, r * c.seq_len + t, label);
        }
      }
      c.options.loss_type = GRPO4J_LOSS_DPO;
      c.options.group_norm = GRPO4J_NORM_DATASET_FREQUENCY;
      // Reference log-probs near the policy's, so that beta * h is O(1) and the gradient is not saturated.
      const std::vector<double> exact = exact_row_logprobs(c);
      std::normal_distribution<double> noise(0.0, 5.0);
      for (int64_t r = 0; r < c.rows(); ++r) c.ref_logps[r] = (float)(exact[r] + noise(rng));
      fprintf(stderr, "  [large] inputs and exact log-probs ready at %.1f s\n", seconds());

      CudaRun run;
      const Outputs cuda = run_cuda(c, run);
      ck.expect(cuda.status == GRPO4J_OK, cuda.error.c_str());
      const Outputs again = run_cuda(c, run);
      ck.expect(identical(cuda, again), "two runs of the large case differ");
      fprintf(stderr, "  [large] two CUDA runs done at %.1f s\n", seconds());

      // Sequence log-probs against the exact double computation.
      double worst = 0;
      for (int64_t i = 0; i < c.pairs; ++i) {
        worst = fmax(worst, fabs(cuda.pair_chosen_logp[i] - exact[i]));
        worst = fmax(worst, fabs(cuda.pair_rejected_logp[i] - exact[c.pairs + i]));
      }
      const double logp_tolerance = 2e-6 * (double)c.seq_len * (1.0 + log((double)c.vocab));
      fprintf(stderr, "  [large] max |s_cuda - s_exact| = %.3g (tolerance %.3g)\n", worst, logp_tolerance);
      ck.expect(worst <= logp_tolerance, "sequence log-probs off the exact values");

      // Everything else against the CPU backend (the reference would take minutes here).
      const Outputs cpu = run_host(c, GRPO4J_BACKEND_CPU, true, 0, true);
      ck.expect(cpu.status == GRPO4J_OK, cpu.error.c_str());
      fprintf(stderr, "  [large] CPU backend done at %.1f s\n", seconds());
      ck.outputs(c, cuda, cpu, false, 1e-4);
      compare_grad_parallel(ck, c, cuda.grad, cpu.grad, grad_rtol(c.logits_type));
      fprintf(stderr, "  [large] compared at %.1f s\n", seconds());
    });
  }
}

// ---- --dump: inputs and CUDA outputs for ci/torch_oracle.py ---------------------------------------------

void write_file(const std::string& path, const void* data, size_t bytes) {
  FILE* f = fopen(path.c_str(), "wb");
  if (!f || fwrite(data, 1, bytes, f) != bytes || fclose(f) != 0) {
    fprintf(stderr, "FATAL: cannot write %s: %s\n", path.c_str(), strerror(errno));
    exit(1);
  }
}

template <typename T>
void write_vector(const std::string& dir, const std::string& name, const std::vector<T>& v) {
  write_file(dir + "/" + name + ".bin", v.data(), v.size() * sizeof(T));
}

int dump_cases(const std::string& dir) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "FATAL: cannot create %s: %s\n", dir.c_str(), strerror(errno));
    return 1;
  }
  struct DumpCase {
    const char* name;
    Shape shape;
    int32_t type, label_type;
    int64_t masked_row;
    std::function<void(grpo4j_options&)> apply;
  };
  const DumpCase cases[] = {
      {"dpo_robust_f32", {4, 33, 1013, 3}, GRPO4J_F32, GRPO4J_I32, -1, [](grpo4j_options&) {}},
      {"ipo_lennorm_freq_adjust_bf16", {4, 40, 5003, 3}, GRPO4J_BF16, GRPO4J_I64, 5,
       [](grpo4j_options& o) {
         o.loss_type = GRPO4J_LOSS_IPO;
         o.ipo_length_norm = 1;
         o.group_norm = GRPO4J_NORM_DATASET_FREQUENCY;
         o.adjustment = 0.5;
         o.beta = 0.5;
       }},
      {"dpo_smooth_is_f16", {3, 17, 2049, 4}, GRPO4J_F16, GRPO4J_I32, -1,
       [](grpo4j_options& o) {
         o.label_smoothing = 0.1;
         o.weighting = GRPO4J_WEIGHTING_IMPORTANCE_SAMPLING;
       }},
      {"dpo_average_bf16", {2, 64, 32000, 2}, GRPO4J_BF16, GRPO4J_I32, 1,
       [](grpo4j_options& o) { o.weighting = GRPO4J_WEIGHTING_AVERAGE; }},
      {"dpo_robust_chi_bf16_V50257", {2, 20, 50257, 2}, GRPO4J_BF16, GRPO4J_I64, -1,
       [](grpo4j_options& o) {
         o.chi = 0.5;
         o.eta = 1.0;
         o.beta = 0.3;
       }},
  };
  std::string manifest = "{\n  \"cases\": [\n";
  uint64_t seed = 3000;
  bool first = true;
  for (const DumpCase& d : cases) {
    Case c = make_case(seed++, d.shape, d.type, d.label_type, 1.0, 0.2, d.masked_row, -1);
    d.apply(c.options);
    CudaRun run;
    const Outputs o = run_cuda(c, run);
    if (o.status != GRPO4J_OK) {
      fprintf(stderr, "FATAL: CUDA call failed on dump case %s: %s\n", d.name, o.error.c_str());
      return 1;
    }
    write_vector(dir, std::string(d.name) + ".logits", c.logits);
    write_vector(dir, std::string(d.name) + ".labels", c.labels);
    write_vector(dir, std::string(d.name) + ".ref_logps", c.ref_logps);
    write_vector(dir, std::string(d.name) + ".group_ids", c.group_ids);
    write_vector(dir, std::string(d.name) + ".group_sizes", c.group_sizes);
    write_vector(dir, std::string(d.name) + ".log_alpha_in", c.log_alpha);
    write_vector(dir, std::string(d.name) + ".log_alpha_out", o.log_alpha);
    write_vector(dir, std::string(d.name) + ".grad", o.grad);
    const std::pair<const char*, const std::vector<float>*> floats[] = {
        {"pair_loss", &o.pair_loss},
        {"pair_margin", &o.pair_margin},
        {"pair_chosen_reward", &o.pair_chosen_reward},
        {"pair_rejected_reward", &o.pair_rejected_reward},
        {"pair_chosen_logp", &o.pair_chosen_logp},
        {"pair_rejected_logp", &o.pair_rejected_logp},
        {"group_loss", &o.group_loss},
        {"group_weight", &o.group_weight},
        {"group_reward_accuracy", &o.group_reward_accuracy},
        {"group_logp_accuracy", &o.group_logp_accuracy},
        {"group_chosen_reward", &o.group_chosen_reward},
        {"group_rejected_reward", &o.group_rejected_reward},
        {"group_margin", &o.group_margin}};
    for (const auto& f : floats) write_vector(dir, std::string(d.name) + "." + f.first, *f.second);
    write_vector(dir, std::string(d.name) + ".group_count", o.group_count);
    write_vector(dir, std::string(d.name) + ".loss", std::vector<float>{o.loss});
    write_vector(dir, std::string(d.name) + ".flags", std::vector<int32_t>{o.flags});
    char entry[1024];
    const grpo4j_options& op = c.options;
    snprintf(entry, sizeof entry,
             "%s    {\"name\": \"%s\", \"pairs\": %lld, \"seq_len\": %lld, \"vocab\": %lld, \"groups\": %d,\n"
             "     \"logits_type\": \"%s\", \"label_type\": \"%s\", \"train\": true,\n"
             "     \"options\": {\"beta\": %.17g, \"label_smoothing\": %.17g, \"eta\": %.17g, \"chi\": %.17g, "
             "\"adjustment\": %.17g, \"loss_type\": %d, \"weighting\": %d, \"group_norm\": %d, "
             "\"ipo_length_norm\": %d}}",
             first ? "" : ",\n", d.name, (long long)c.pairs, (long long)c.seq_len, (long long)c.vocab, c.groups,
             type_name(c.logits_type), c.label_type == GRPO4J_I64 ? "i64" : "i32", op.beta, op.label_smoothing,
             op.eta, op.chi, op.adjustment, op.loss_type, op.weighting, op.group_norm, op.ipo_length_norm);
    manifest += entry;
    first = false;
  }
  manifest += "\n  ]\n}\n";
  write_file(dir + "/manifest.json", manifest.data(), manifest.size());
  printf("dumped %zu cases to %s\n", sizeof(cases) / sizeof(cases[0]), dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool small = false;
  std::string dump_dir;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--small")) {
      small = true;
    } else if (!strcmp(argv[i], "--dump") && i + 1 < argc) {
      dump_dir = argv[++i];
    } else {
      fprintf(stderr, "usage: %s [--small] [--dump DIR]\n", argv[0]);
      return 2;
    }
  }
  int32_t devices = 0;
  if (grpo4j_cuda_device_count(&devices) != GRPO4J_OK || devices < 1) {
    printf("SKIP: no CUDA device (%s)\n", grpo4j_last_error());
    return 77;
  }
  if (!dump_dir.empty()) return dump_cases(dump_dir);

  register_shape_tests();
  register_option_tests();
  register_special_tests();
  register_flag_tests();
  register_determinism_tests();
  register_phase_tests();
  register_large_tests();

  int passed = 0, failed = 0;
  for (const Test& t : g_tests) {
    if (small && !t.small) continue;
    Checker ck;
    ck.context = t.name;
    const auto start = std::chrono::steady_clock::now();
    t.body(ck);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (ck.failures == 0) {
      ++passed;
      printf("ok    %-56s %9.1f ms\n", t.name.c_str(), ms);
    } else {
      ++failed;
      printf("FAIL  %-56s %9.1f ms (%d checks)\n", t.name.c_str(), ms, ck.failures);
    }
    fflush(stdout);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
