// Timing of the CPU backend's fused forward + backward against the machine's own copy bandwidth, measured
// in the same run: 8 pairs x T = 512 x V = 32000 fp32 logits (16 rows, 1.05 GB), every position labelled.
// The kernel must read the logits twice and write the gradient once, so its floor is 3 x the logits'
// bytes at copy bandwidth (copy bandwidth = bytes read + bytes written per second by memcpy of a buffer
// of that size).
//
// Usage: bench_cpu [threads (default 2)] [repetitions (default 5)] [seq_len (default 512)] [f32|bf16|f16]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "../src/internal.h"
#include "grpo4j.h"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Fastest of `repetitions` copies of `bytes` split over `threads` threads; returns (read + written) bytes/s.
double copy_bandwidth(char* dst, const char* src, int64_t bytes, int threads, int repetitions) {
  double best = 1e30;
  for (int rep = 0; rep < repetitions; ++rep) {
    const double start = now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      const int64_t begin = bytes * t / threads, end = bytes * (t + 1) / threads;
      workers.emplace_back([=] { memcpy(dst + begin, src + begin, end - begin); });
    }
    for (std::thread& w : workers) w.join();
    best = std::min(best, now() - start);
  }
  return 2.0 * (double)bytes / best;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : 2;
  const int repetitions = argc > 2 ? atoi(argv[2]) : 5;
  const int64_t pairs = 8, seq_len = argc > 3 ? atoll(argv[3]) : 512, vocab = 32000;
  const char* type_name = argc > 4 ? argv[4] : "f32";
  const int32_t type = !strcmp(type_name, "bf16") ? GRPO4J_BF16 : !strcmp(type_name, "f16") ? GRPO4J_F16 : GRPO4J_F32;
  const int64_t rows = 2 * pairs, positions = rows * seq_len, elements = positions * vocab;
  const int64_t bytes = elements * grpo4j::element_size(type);

  std::vector<char> logits(bytes), grad(bytes);
  uint32_t state = 12345;
  for (int64_t e = 0; e < elements; ++e) {
    state = state * 1664525u + 1013904223u;
    grpo4j::store_logit(logits.data(), type, e, (float)(state >> 8) * (8.0f / 16777216.0f) - 4.0f);
  }
  std::vector<int32_t> labels(positions);
  for (int64_t p = 0; p < positions; ++p) labels[p] = (int32_t)((p * 7919) % vocab);
  std::vector<float> ref_logps(rows, -3.0f * (float)seq_len);
  std::vector<int32_t> group_ids(pairs);
  for (int64_t i = 0; i < pairs; ++i) group_ids[i] = (int32_t)(i % 2);
  std::vector<int64_t> group_sizes = {100, 300};
  std::vector<double> log_alpha = {-0.6931471805599453, -0.6931471805599453};
  float loss = 0;
  int32_t flags = 0;

  grpo4j_options options{};
  options.beta = 0.1;
  options.eta = 0.01;
  options.chi = 1.0;
  options.loss_type = GRPO4J_LOSS_DPO;
  options.weighting = GRPO4J_WEIGHTING_ROBUST;
  options.group_norm = GRPO4J_NORM_BATCH_MEAN;
  grpo4j_batch batch{};
  batch.tokens = {logits.data(), labels.data(), rows, seq_len, vocab, type, GRPO4J_I32};
  batch.ref_logps = ref_logps.data();
  batch.group_ids = group_ids.data();
  batch.group_sizes = group_sizes.data();
  batch.log_alpha = log_alpha.data();
  batch.grad = grad.data();
  batch.num_pairs = pairs;
  batch.num_groups = 2;
  batch.out.loss = &loss;
  batch.out.flags = &flags;
  const grpo4j_exec exec{nullptr, GRPO4J_BACKEND_CPU, threads};

  struct Kernel {
    const char* name;
    double floor_bytes;
    void* grad;
    bool train;
    std::vector<double> seconds, fractions;
  };
  std::vector<Kernel> kernels = {
      {"forward+backward (2 reads, 1 write)", 3.0 * bytes, grad.data(), true, {}, {}},
      {"forward only (1 read)", 1.0 * bytes, nullptr, false, {}, {}},
      {"forward+backward in place", 3.0 * bytes, logits.data(), true, {}, {}},
  };
  auto run = [&](const Kernel& k) {
    batch.grad = k.grad;
    const grpo4j_status status = k.train ? grpo4j_loss_forward_backward(&options, &batch, &exec)
                                         : grpo4j_loss_forward(&options, &batch, &exec);
    if (status != GRPO4J_OK) {
      fprintf(stderr, "%s failed: %s\n", k.name, grpo4j_last_error());
      exit(1);
    }
  };
  for (const Kernel& k : kernels) run(k);

  // The bandwidth a shared machine gives varies from second to second, so each repetition measures the
  // copy bandwidth (over the same buffers, with 1 and with `threads` threads, the faster counting) right
  // before the kernels, and the fraction is taken per repetition.
  std::vector<double> copies;
  for (int rep = 0; rep < repetitions; ++rep) {
    const double copy = std::max(copy_bandwidth(grad.data(), logits.data(), bytes, 1, 1),
                                 copy_bandwidth(grad.data(), logits.data(), bytes, threads, 1));
    copies.push_back(copy);
    for (Kernel& k : kernels) {
      const double start = now();
      run(k);
      const double seconds = now() - start;
      k.seconds.push_back(seconds);
      k.fractions.push_back(k.floor_bytes / seconds / copy);
    }
  }

  printf("bench_cpu: %lld pairs x T=%lld x V=%lld %s (%.2f GB of logits), %d threads, %d repetitions\n",
         (long long)pairs, (long long)seq_len, (long long)vocab, type_name, bytes / 1e9, threads, repetitions);
  printf("memcpy bandwidth (read + write): median %.2f GB/s, range %.2f to %.2f GB/s\n", median(copies) / 1e9,
         *std::min_element(copies.begin(), copies.end()) / 1e9, *std::max_element(copies.begin(), copies.end()) / 1e9);
  for (const Kernel& k : kernels) {
    const double best = *std::min_element(k.seconds.begin(), k.seconds.end()), typical = median(k.seconds);
    printf("%-36s median %8.2f ms (best %8.2f)  %6.2f GB/s  median %5.1f%% of copy bandwidth\n", k.name,
           1e3 * typical, 1e3 * best, k.floor_bytes / typical / 1e9, 100.0 * median(k.fractions));
  }
  printf("loss %.6g, flags %d\n", loss, flags);
  return 0;
}
