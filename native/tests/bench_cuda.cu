// Timing program for the CUDA backend (a CMake target, not a test). It first measures the card's own
// device-to-device copy bandwidth (bytes read + bytes written), then times the fused loss at SPEC §6's shape
// (16384 tokens = 8 rows x 2048, V = 128256) and at 8 x 512 x 32000, in bf16, f16 and f32:
//   fwd+bwd           grpo4j_loss_forward_backward, gradient into a separate buffer
//   fwd+bwd_in_place  the same with grad == logits (the logits are restored, untimed, before each run)
//   forward           grpo4j_loss_forward
// Traffic counted is the floor of SPEC §3: the logits read twice and the gradient written once (fwd+bwd),
// the logits read once (forward). Each call is timed alone with CUDA events after warm-up; the table shows
// the median. The logits are Normal(0, 2) and every position is labelled; the reference log-probs are set
// near the policy's so that no row's coefficient underflows to zero (a zero row is written without reading).
//
//   bench_cuda [--json PATH] [--iters N] [--quick]
#include <cuda_runtime.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "../src/internal.h"
#include "fill_normal.cuh"
#include "grpo4j.h"

namespace {

void check(cudaError_t error, const char* what) {
  if (error != cudaSuccess) {
    fprintf(stderr, "FATAL: %s: %s\n", what, cudaGetErrorString(error));
    exit(1);
  }
}

void check(grpo4j_status status, const char* what) {
  if (status != GRPO4J_OK) {
    fprintf(stderr, "FATAL: %s: status %d: %s\n", what, (int)status, grpo4j_last_error());
    exit(1);
  }
}

struct Events {
  cudaEvent_t start, stop;
  Events() {
    check(cudaEventCreate(&start), "cudaEventCreate");
    check(cudaEventCreate(&stop), "cudaEventCreate");
  }
  ~Events() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
};

struct Timing {
  double median_ms, min_ms, max_ms;
};

// Times `iters` runs of body(i) one by one after `warmup` untimed runs; prepare(i) runs before each, untimed.
template <typename Prepare, typename Body>
Timing time_runs(cudaStream_t stream, int warmup, int iters, Prepare&& prepare, Body&& body) {
  Events ev;
  std::vector<double> ms;
  for (int i = 0; i < warmup + iters; ++i) {
    prepare(i);
    check(cudaEventRecord(ev.start, stream), "cudaEventRecord");
    body(i);
    check(cudaEventRecord(ev.stop, stream), "cudaEventRecord");
    check(cudaEventSynchronize(ev.stop), "cudaEventSynchronize");
    float t = 0;
    check(cudaEventElapsedTime(&t, ev.start, ev.stop), "cudaEventElapsedTime");
    if (i >= warmup) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  return {n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]), ms.front(), ms.back()};
}

struct Shape {
  const char* name;
  int64_t rows, seq_len, vocab;
};

struct Result {
  std::string shape, dtype, variant;
  int64_t rows, seq_len, vocab;
  double bytes;
  Timing t;
  double host_us;
};

const char* type_name(int32_t t) { return t == GRPO4J_F32 ? "f32" : t == GRPO4J_BF16 ? "bf16" : "f16"; }

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  int iters = 20;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--json") && i + 1 < argc) {
      json_path = argv[++i];
    } else if (!strcmp(argv[i], "--iters") && i + 1 < argc) {
      iters = std::max(1, atoi(argv[++i]));
    } else if (!strcmp(argv[i], "--quick")) {
      quick = true;
    } else {
      fprintf(stderr, "usage: %s [--json PATH] [--iters N] [--quick]\n", argv[0]);
      return 2;
    }
  }
  int32_t devices = 0;
  if (grpo4j_cuda_device_count(&devices) != GRPO4J_OK || devices < 1) {
    printf("SKIP: no CUDA device (%s)\n", grpo4j_last_error());
    return 77;
  }
  cudaDeviceProp prop;
  check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  cudaStream_t stream;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  const int warmup = 3;

  // Copy ceiling: 2 GiB device to device, bytes read + written.
  double copy_gbps;
  {
    const size_t bytes = (size_t)2 << 30;
    void *src, *dst;
    check(cudaMalloc(&src, bytes), "cudaMalloc");
    check(cudaMalloc(&dst, bytes), "cudaMalloc");
    GRPO4J_LAUNCH(4096, 256, 0, stream, grpo4j_test::fill_normal)(src, GRPO4J_F32, (int64_t)(bytes / 4), 7, 1.0f);
    check(cudaGetLastError(), "fill_normal");
    const Timing t = time_runs(
        stream, warmup, iters, [](int) {},
        [&](int) { check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync"); });
    copy_gbps = 2.0 * (double)bytes / (t.median_ms * 1e6);
    check(cudaFree(src), "cudaFree");
    check(cudaFree(dst), "cudaFree");
  }
  printf("device: %s, %d SMs, L2 %.0f MB; copy bandwidth (read + write) %.0f GB/s\n", prop.name,
         prop.multiProcessorCount, prop.l2CacheSize / 1e6, copy_gbps);

  std::vector<Shape> shapes = {{"16384tok_V128256", 8, 2048, 128256}, {"8x512_V32000", 8, 512, 32000}};
  std::vector<int32_t> types = {GRPO4J_BF16, GRPO4J_F16, GRPO4J_F32};
  if (quick) {
    shapes = {shapes[1]};
    types = {GRPO4J_BF16};
  }
  // Written between runs where a preparation step would otherwise leave the inputs in L2.
  const size_t scratch_bytes = 4 * (size_t)prop.l2CacheSize;
  void* scratch;
  check(cudaMalloc(&scratch, scratch_bytes), "cudaMalloc scratch");
  std::vector<Result> results;
  for (const Shape& s : shapes) {
    for (int32_t type : types) {
      const int64_t positions = s.rows * s.seq_len, B = s.rows / 2;
      const int32_t K = 2;
      const size_t logit_bytes = (size_t)(positions * s.vocab * grpo4j::element_size(type));
      // Enough input copies to exceed the L2 four times over (one suffices for these shapes).
      const int copies = (int)std::max<size_t>(1, (4 * (size_t)prop.l2CacheSize + logit_bytes - 1) / logit_bytes);
      std::vector<void*> logits(copies);
      void *pristine, *grad, *labels, *ref, *ids, *sizes, *alpha, *outputs;
      for (void*& l : logits) check(cudaMalloc(&l, logit_bytes), "cudaMalloc logits");
      check(cudaMalloc(&pristine, logit_bytes), "cudaMalloc");
      check(cudaMalloc(&grad, logit_bytes), "cudaMalloc");
      check(cudaMalloc(&labels, positions * 4), "cudaMalloc");
      check(cudaMalloc(&ref, s.rows * 4), "cudaMalloc");
      check(cudaMalloc(&ids, B * 4), "cudaMalloc");
      check(cudaMalloc(&sizes, K * 8), "cudaMalloc");
      check(cudaMalloc(&alpha, K * 8), "cudaMalloc");
      check(cudaMalloc(&outputs, 4096), "cudaMalloc");
      for (int c = 0; c < copies; ++c) {
        // Same values in every copy (the copies only spread the addresses), so ref_logps fit them all.
        GRPO4J_LAUNCH(8192, 256, 0, stream, grpo4j_test::fill_normal)(logits[c], type, positions * s.vocab, 100, 2.0f);
        check(cudaGetLastError(), "fill_normal");
      }
      check(cudaMemcpyAsync(pristine, logits[0], logit_bytes, cudaMemcpyDeviceToDevice, stream), "copy");
      std::mt19937_64 rng(11);
      std::vector<int32_t> h_labels(positions), h_ids(B);
      for (auto& l : h_labels) l = (int32_t)(rng() % (uint64_t)s.vocab);
      for (int64_t i = 0; i < B; ++i) h_ids[i] = (int32_t)(i % K);
      const std::vector<int64_t> h_sizes = {100, 300};
      const std::vector<double> h_alpha = {log(0.5), log(0.5)};
      check(cudaMemcpy(labels, h_labels.data(), positions * 4, cudaMemcpyHostToDevice), "upload");
      check(cudaMemcpy(ids, h_ids.data(), B * 4, cudaMemcpyHostToDevice), "upload");
      check(cudaMemcpy(sizes, h_sizes.data(), K * 8, cudaMemcpyHostToDevice), "upload");
      check(cudaMemcpy(alpha, h_alpha.data(), K * 8, cudaMemcpyHostToDevice), "upload");
      check(cudaStreamSynchronize(stream), "synchronize");

      grpo4j_tokens tk{logits[0], labels, s.rows, s.seq_len, s.vocab, type, GRPO4J_I32};
      grpo4j_exec exec{(void*)stream, GRPO4J_BACKEND_CUDA, 0};
      // ref_logps = the policy's own log-probs + 1 (chosen) / - 1 (rejected): beta * h stays O(1).
      check(grpo4j_sequence_logprobs(&tk, (float*)ref, nullptr, nullptr, &exec), "sequence_logprobs");
      std::vector<float> h_ref(s.rows);
      check(cudaMemcpyAsync(h_ref.data(), ref, s.rows * 4, cudaMemcpyDeviceToHost, stream), "download");
      check(cudaStreamSynchronize(stream), "synchronize");
      for (int64_t r = 0; r < s.rows; ++r) h_ref[r] += r < B ? 1.0f : -1.0f;
      check(cudaMemcpy(ref, h_ref.data(), s.rows * 4, cudaMemcpyHostToDevice), "upload");

      grpo4j_options o{};
      o.beta = 0.1;
      o.eta = 0.01;  // small, so that many iterations do not drive a group weight to zero
      o.chi = 1.0;
      o.loss_type = GRPO4J_LOSS_DPO;
      o.weighting = GRPO4J_WEIGHTING_ROBUST;
      o.group_norm = GRPO4J_NORM_BATCH_MEAN;
      grpo4j_batch b{};
      b.tokens = tk;
      b.ref_logps = (const float*)ref;
      b.group_ids = (const int32_t*)ids;
      b.group_sizes = (const int64_t*)sizes;
      b.log_alpha = (double*)alpha;
      b.num_pairs = B;
      b.num_groups = K;
      float* out = (float*)outputs;
      b.out.loss = out;
      b.out.pair_loss = out + 16;
      b.out.group_loss = out + 512;
      b.out.group_weight = out + 528;
      b.out.flags = (int32_t*)(out + 544);

      const double bytes3 = 3.0 * (double)logit_bytes, bytes1 = (double)logit_bytes;
      auto record = [&](const char* variant, double bytes, Timing t, double call_us) {
        results.push_back({s.name, type_name(type), variant, s.rows, s.seq_len, s.vocab, bytes, t, call_us});
        printf("  %-18s %-5s %-17s %9.3f ms  (%.0f GB/s, host %.0f us per call)\n", s.name, type_name(type),
               variant, t.median_ms, bytes / (t.median_ms * 1e6), call_us);
        fflush(stdout);
      };
      double host_us = 0;  // host time inside the last call (validation, allocation, launches)
      auto run = [&](bool train, void* logits_ptr, void* grad_ptr) {
        b.tokens.logits = logits_ptr;
        b.grad = grad_ptr;
        const auto start = std::chrono::steady_clock::now();
        check(train ? grpo4j_loss_forward_backward(&o, &b, &exec) : grpo4j_loss_forward(&o, &b, &exec), "loss");
        host_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
      };
      Timing t = time_runs(stream, warmup, iters, [](int) {}, [&](int i) { run(true, logits[i % copies], grad); });
      record("fwd+bwd", bytes3, t, host_us);
      t = time_runs(
          stream, warmup, iters,
          [&](int) {
            check(cudaMemcpyAsync(grad, pristine, logit_bytes, cudaMemcpyDeviceToDevice, stream), "restore");
            // The restore leaves the end of the logits in L2; evict it so that the timed run starts cold.
            check(cudaMemsetAsync(scratch, 0, scratch_bytes, stream), "flush L2");
          },
          [&](int) { run(true, grad, grad); });
      record("fwd+bwd_in_place", bytes3, t, host_us);
      t = time_runs(stream, warmup, iters, [](int) {}, [&](int i) { run(false, logits[i % copies], nullptr); });
      record("forward", bytes1, t, host_us);
      int32_t flags = -1;
      check(cudaMemcpy(&flags, b.out.flags, 4, cudaMemcpyDeviceToHost), "download flags");
      if (flags != 0) {
        fprintf(stderr, "FATAL: the benchmark inputs raised flags %d\n", flags);
        return 1;
      }
      for (void* l : logits) check(cudaFree(l), "cudaFree");
      for (void* p : {pristine, grad, labels, ref, ids, sizes, alpha, outputs}) check(cudaFree(p), "cudaFree");
    }
  }

  printf("\n%-18s %-5s %-17s %10s %10s %9s %9s %9s %8s\n", "shape", "dtype", "variant", "median_ms", "floor_ms",
         "x_floor", "GB/s", "of_copy", "host_us");
  for (const Result& r : results) {
    const double gbps = r.bytes / (r.t.median_ms * 1e6), floor_ms = r.bytes / (copy_gbps * 1e6);
    printf("%-18s %-5s %-17s %10.3f %10.3f %9.2f %9.0f %8.1f%% %8.0f\n", r.shape.c_str(), r.dtype.c_str(),
           r.variant.c_str(), r.t.median_ms, floor_ms, r.t.median_ms / floor_ms, gbps, 100.0 * gbps / copy_gbps,
           r.host_us);
  }
  printf("copy bandwidth %.0f GB/s (read + write); floor = bytes / copy bandwidth; %d timed runs each, median; "
         "host_us = host time inside one call\n",
         copy_gbps, iters);

  if (!json_path.empty()) {
    FILE* f = fopen(json_path.c_str(), "w");
    if (!f) {
      fprintf(stderr, "FATAL: cannot write %s\n", json_path.c_str());
      return 1;
    }
    fprintf(f, "{\n  \"device\": \"%s\",\n  \"sm_count\": %d,\n  \"l2_bytes\": %d,\n  \"copy_GBps\": %.3f,\n",
            prop.name, prop.multiProcessorCount, prop.l2CacheSize, copy_gbps);
    fprintf(f, "  \"iterations\": %d,\n  \"results\": [\n", iters);
    for (size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      const double gbps = r.bytes / (r.t.median_ms * 1e6), floor_ms = r.bytes / (copy_gbps * 1e6);
      fprintf(f,
              "    {\"shape\": \"%s\", \"rows\": %lld, \"seq_len\": %lld, \"vocab\": %lld, \"dtype\": \"%s\", "
              "\"variant\": \"%s\", \"median_ms\": %.5f, \"min_ms\": %.5f, \"max_ms\": %.5f, \"bytes\": %.0f, "
              "\"GBps\": %.3f, \"floor_ms\": %.5f, \"times_floor\": %.4f, \"fraction_of_copy\": %.4f, "
              "\"host_us_per_call\": %.1f}%s\n",
              r.shape.c_str(), (long long)r.rows, (long long)r.seq_len, (long long)r.vocab, r.dtype.c_str(),
              r.variant.c_str(), r.t.median_ms, r.t.min_ms, r.t.max_ms, r.bytes, gbps, floor_ms,
              r.t.median_ms / floor_ms, gbps / copy_gbps, r.host_us, i + 1 < results.size() ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
    printf("wrote %s\n", json_path.c_str());
  }
  check(cudaFree(scratch), "cudaFree");
  check(cudaStreamDestroy(stream), "cudaStreamDestroy");
  return 0;
}
