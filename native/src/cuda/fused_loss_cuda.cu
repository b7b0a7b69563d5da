// The CUDA backend's entry points: grpo4j_loss_forward_backward / grpo4j_loss_forward, the three phases, and
// grpo4j_sequence_logprobs. For P = rows * T positions and logits [rows, T, V]:
//   phase 1 (token_logprobs_cuda.cu, loss_statistics_cuda.cu): read the logits once: per-position (max, log_sum)
//           and log-prob, token flags; then one block: row sums, pair terms and outputs, dl/ds per row, group sums;
//   phase 2 (group_step_cuda.cu): one block: L_g, weight update, w_g, J, group outputs, dJ/dl per group;
//   phase 3 (logits_gradient_cuda.cu, training only): coefficients per row, then read the logits again and write
//           the gradient once.
// That is the traffic floor of SPEC §3: logits read twice, gradient written once; the per-position
// intermediates (12 bytes per position) and the small kernels are noise beside it. The one-shot calls are the
// three phases on one batch, so phases composed by a caller give the same bits.
//
// Everything runs asynchronously on the caller's stream: a stream-ordered workspace (cudaMallocFromPoolAsync /
// cudaFreeAsync), no host synchronisation, launch errors checked. Problems in device-side inputs cannot be
// returned as a status without a synchronisation, so the kernels report them through outputs.flags.
#include <cuda_runtime.h>
#include <stdint.h>

#include <mutex>
#include <unordered_map>

#include "../group_step.h"
#include "../internal.h"
#include "cuda_check.cuh"
#include "cuda_kernels.cuh"

namespace grpo4j {

namespace {

using cuda::FlagState;

// Rejects pointers the GPU cannot dereference (plain host memory) and misaligned ones, before any launch:
// a kernel that faults would leave the context unusable for the rest of the process.
grpo4j_status check_device_pointer(const void* p, const char* name, int64_t alignment) {
  if ((reinterpret_cast<uintptr_t>(p) % (uintptr_t)alignment) != 0)
    return fail(GRPO4J_INVALID_ARGUMENT, "%s = %p is not aligned to its %lld-byte element", name, p,
                (long long)alignment);
  cudaPointerAttributes attributes{};
  const cudaError_t error = cudaPointerGetAttributes(&attributes, p);
  if (error != cudaSuccess) {
    (void)cudaGetLastError();
    return fail(GRPO4J_INVALID_ARGUMENT, "%s = %p: cudaPointerGetAttributes failed (%s): pass device memory", name,
                p, cudaGetErrorString(error));
  }
  const bool usable = attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged ||
                      (attributes.type == cudaMemoryTypeHost && attributes.devicePointer != nullptr);
  if (!usable)
    return fail(GRPO4J_INVALID_ARGUMENT,
                "%s = %p is host memory the GPU cannot access: the CUDA backend needs device (or managed) memory, "
                "e.g. from grpo4j_cuda_malloc",
                name, p);
  return GRPO4J_OK;
}

grpo4j_status check_tokens(const grpo4j_tokens& tk) {
  if (tk.vocab > 0x7fffffffLL)
    return fail(GRPO4J_INVALID_ARGUMENT, "tokens.vocab = %lld: the CUDA backend supports V < 2^31",
                (long long)tk.vocab);
  grpo4j_status status = check_device_pointer(tk.logits, "tokens.logits", element_size(tk.logits_type));
  if (status == GRPO4J_OK) status = check_device_pointer(tk.labels, "tokens.labels", index_size(tk.label_type));
  return status;
}

// Sub-allocations of one workspace block, each 256-byte aligned.
class WorkspaceLayout {
 public:
  template <typename T>
  size_t add(int64_t count) {
    const size_t offset = (bytes_ + 255) & ~(size_t)255;
    bytes_ = offset + (size_t)count * sizeof(T);
    return offset;
  }
  size_t bytes() const { return bytes_; }

 private:
  size_t bytes_ = 0;
};

template <typename T>
T* at(void* base, size_t offset) {
  return reinterpret_cast<T*>(static_cast<unsigned char*>(base) + offset);
}

// The workspace comes from a memory pool of the library's own, one per device, that keeps its memory
// between calls. The device's default pool returns its memory at every synchronisation (release threshold
// 0), after which the next cudaMallocAsync maps it again: ~90 us measured on an H100, 20% of a call at
// 8 x 512 x 32000. Raising the default pool's threshold instead would change it for the whole process.
// Kept memory is the largest workspace used, 12 bytes per position plus small change.
// *pool stays NULL on devices without stream-ordered allocation.
grpo4j_status workspace_pool(cudaMemPool_t* pool) {
  static std::mutex mutex;
  static std::unordered_map<int, cudaMemPool_t> pools;
  int device = 0;
  GRPO4J_CUDA_TRY(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(mutex);
  auto found = pools.find(device);
  if (found != pools.end()) {
    *pool = found->second;
    return GRPO4J_OK;
  }
  int supported = 0;
  GRPO4J_CUDA_TRY(cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, device));
  cudaMemPool_t created = nullptr;
  if (supported) {
    cudaMemPoolProps props{};
    props.allocType = cudaMemAllocationTypePinned;
    props.handleTypes = cudaMemHandleTypeNone;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = device;
    GRPO4J_CUDA_TRY(cudaMemPoolCreate(&created, &props));
    uint64_t keep_everything = UINT64_MAX;
    GRPO4J_CUDA_TRY(cudaMemPoolSetAttribute(created, cudaMemPoolAttrReleaseThreshold, &keep_everything));
  }
  pools.emplace(device, created);
  *pool = created;
  return GRPO4J_OK;
}

// Allocates `bytes` in stream order, runs body(base), frees in stream order. Devices without memory pools
// fall back to cudaMalloc and a synchronised cudaFree (the only path that blocks the host).
template <typename Body>
grpo4j_status with_workspace(size_t bytes, cudaStream_t stream, Body&& body) {
  cudaMemPool_t pool = nullptr;
  grpo4j_status status = workspace_pool(&pool);
  if (status != GRPO4J_OK) return status;
  void* base = nullptr;
  cudaError_t error = pool ? cudaMallocFromPoolAsync(&base, bytes, pool, stream) : cudaMalloc(&base, bytes);
  if (error != cudaSuccess) {
    (void)cudaGetLastError();
    return cuda_status(error, "allocating the CUDA workspace");
  }
  status = body(base);
  if (pool) {
    error = cudaFreeAsync(base, stream);
  } else {
    error = cudaStreamSynchronize(stream);
    const cudaError_t freed = cudaFree(base);
    if (error == cudaSuccess) error = freed;
  }
  if (status == GRPO4J_OK) status = cuda_status(error, "releasing the CUDA workspace");
  return status;
}

grpo4j_status reset_flags(FlagState* flags, cudaStream_t stream) {
  GRPO4J_CUDA_TRY(cudaMemsetAsync(flags, 0, sizeof(FlagState), stream));
  return GRPO4J_OK;
}

grpo4j_status check_outputs(const grpo4j_outputs& out) {
  const struct {
    const void* pointer;
    const char* name;
  } outputs[] = {{out.loss, "out.loss"},
                 {out.pair_loss, "out.pair_loss"},
                 {out.pair_margin, "out.pair_margin"},
                 {out.pair_chosen_reward, "out.pair_chosen_reward"},
                 {out.pair_rejected_reward, "out.pair_rejected_reward"},
                 {out.pair_chosen_logp, "out.pair_chosen_logp"},
                 {out.pair_rejected_logp, "out.pair_rejected_logp"},
                 {out.group_loss, "out.group_loss"},
                 {out.group_weight, "out.group_weight"},
                 {out.group_reward_accuracy, "out.group_reward_accuracy"},
                 {out.group_logp_accuracy, "out.group_logp_accuracy"},
                 {out.group_chosen_reward, "out.group_chosen_reward"},
                 {out.group_rejected_reward, "out.group_rejected_reward"},
                 {out.group_margin, "out.group_margin"},
                 {out.group_count, "out.group_count"},
                 {out.flags, "out.flags"}};
  for (const auto& output : outputs) {
    if (!output.pointer) continue;
    const grpo4j_status status = check_device_pointer(output.pointer, output.name, 4);
    if (status != GRPO4J_OK) return status;
  }
  return GRPO4J_OK;
}

// The pair inputs phase 1 and phase 3 read.
grpo4j_status check_pair_inputs(const grpo4j_batch& b) {
  grpo4j_status status = check_tokens(b.tokens);
  if (status == GRPO4J_OK) status = check_device_pointer(b.ref_logps, "batch.ref_logps", 4);
  if (status == GRPO4J_OK) status = check_device_pointer(b.group_ids, "batch.group_ids", 4);
  return status;
}

// The group state phase 2 reads.
grpo4j_status check_group_state(const grpo4j_batch& b) {
  grpo4j_status status = GRPO4J_OK;
  if (b.group_sizes) status = check_device_pointer(b.group_sizes, "batch.group_sizes", 8);
  if (status == GRPO4J_OK && b.log_alpha) status = check_device_pointer(b.log_alpha, "batch.log_alpha", 8);
  return status;
}

// The phase workspace a caller holds between phases 1 and 3 (grpo4j_workspace_bytes covers it): per position the
// softmax statistics, then dl/ds per row.
struct PhaseWorkspace {
  float2* stats;  // [P]
  double* dloss;  // [rows]
};

PhaseWorkspace phase_workspace(void* base, int64_t rows, int64_t seq_len) {
  PhaseWorkspace w;
  w.stats = static_cast<float2*>(base);
  w.dloss = at<double>(base, (size_t)((rows * seq_len * 8 + 15) & ~(int64_t)15));
  return w;
}

// Scratch of each phase, beside the phase workspace.
struct StatisticsScratch {
  size_t logp, flags, row_sum, pair_loss, row_count, sorted;
  StatisticsScratch(WorkspaceLayout& layout, int64_t positions, int64_t rows, int64_t pairs)
      : logp(layout.add<float>(positions)),
        flags(layout.add<FlagState>(1)),
        row_sum(layout.add<double>(rows)),
        pair_loss(layout.add<double>(pairs)),
        row_count(layout.add<int32_t>(rows)),
        sorted(layout.add<double>(3 * pairs)) {}
};

struct GroupScratch {
  size_t norm, group_loss, adjusted, alpha, weight, count;
  GroupScratch(WorkspaceLayout& layout, int32_t groups)
      : norm(layout.add<double>(groups)),
        group_loss(layout.add<double>(groups)),
        adjusted(layout.add<double>(groups)),
        alpha(layout.add<double>(groups)),
        weight(layout.add<double>(groups)),
        count(layout.add<int32_t>(groups)) {}
};

// Phase 1 into `workspace` and `group_stats`; *flags_out receives the scratch's flags for a following phase 2.
grpo4j_status run_statistics(const grpo4j_options& o, const grpo4j_batch& b, double* group_stats,
                             const PhaseWorkspace& workspace, void* base, const StatisticsScratch& scratch,
                             cudaStream_t stream, FlagState** flags_out) {
  const grpo4j_tokens& tk = b.tokens;
  FlagState* flags = at<FlagState>(base, scratch.flags);
  float* logp = at<float>(base, scratch.logp);
  grpo4j_status status = reset_flags(flags, stream);
  if (status != GRPO4J_OK) return status;
  status = cuda_status(cuda::launch_token_logprobs(tk, workspace.stats, logp, flags, stream),
                       "launching pass 1 (token log-probs)");
  if (status != GRPO4J_OK) return status;
  cuda::StatisticsArgs args{};
  args.options = o;
  args.labels = tk.labels;
  args.label_type = tk.label_type;
  args.num_groups = b.num_groups;
  args.rows = tk.rows;
  args.seq_len = tk.seq_len;
  args.vocab = tk.vocab;
  args.num_pairs = b.num_pairs;
  args.logp = logp;
  args.ref_logps = b.ref_logps;
  args.group_ids = b.group_ids;
  args.flags = flags;
  args.out = b.out;
  args.dloss = workspace.dloss;
  args.group_stats = group_stats;
  args.row_sum = at<double>(base, scratch.row_sum);
  args.pair_loss = at<double>(base, scratch.pair_loss);
  args.row_count = at<int32_t>(base, scratch.row_count);
  args.sorted = at<double>(base, scratch.sorted);
  if (flags_out) *flags_out = flags;
  return cuda_status(cuda::launch_loss_statistics(args, stream), "launching the pair statistics");
}

grpo4j_status run_group_step(const grpo4j_options& o, const grpo4j_batch& b, const double* group_stats, bool update,
                             double* group_coef, const FlagState* upstream, void* base, const GroupScratch& scratch,
                             cudaStream_t stream) {
  cuda::GroupStepArgs args{};
  args.options = o;
  args.num_groups = b.num_groups;
  args.update_weights = update ? 1 : 0;
  args.group_stats = group_stats;
  args.group_sizes = b.group_sizes;
  args.log_alpha = b.log_alpha;
  args.group_coef = group_coef;
  args.upstream_flags = upstream;
  args.out = b.out;
  args.norm = at<double>(base, scratch.norm);
  args.group_loss = at<double>(base, scratch.group_loss);
  args.adjusted = at<double>(base, scratch.adjusted);
  args.alpha = at<double>(base, scratch.alpha);
  args.weight = at<double>(base, scratch.weight);
  args.count = at<int32_t>(base, scratch.count);
  return cuda_status(cuda::launch_group_step(args, stream), "launching the group step");
}

grpo4j_status run_gradient(const grpo4j_batch& b, const PhaseWorkspace& workspace, const double* group_coef,
                           float* coef, cudaStream_t stream) {
  grpo4j_status status =
      cuda_status(cuda::launch_row_coefficients(b.group_ids, b.num_pairs, b.num_groups, group_coef, workspace.dloss,
                                                b.tokens.logits_type, coef, b.out.flags, stream),
                  "launching the row coefficients");
  if (status != GRPO4J_OK) return status;
  return cuda_status(cuda::launch_logits_gradient(b.tokens, b.grad, workspace.stats, coef, stream),
                     "launching pass 3 (logits gradient)");
}

}  // namespace

grpo4j_status cuda_loss(const grpo4j_options& o, const grpo4j_batch& b, bool train, void* stream_handle) {
  grpo4j_status status = require_device();
  if (status == GRPO4J_OK) status = check_pair_inputs(b);
  if (status == GRPO4J_OK) status = check_group_state(b);
  if (status == GRPO4J_OK && train)
    status = check_device_pointer(b.grad, "batch.grad", element_size(b.tokens.logits_type));
  if (status == GRPO4J_OK) status = check_outputs(b.out);
  if (status != GRPO4J_OK) return status;

  const int64_t rows = b.tokens.rows, positions = rows * b.tokens.seq_len;
  WorkspaceLayout layout;
  const size_t workspace_at = layout.add<unsigned char>(workspace_bytes(rows, b.tokens.seq_len));
  const size_t stats_at = layout.add<double>((int64_t)b.num_groups * GRPO4J_GROUP_STATS);
  const size_t group_coef_at = layout.add<double>(b.num_groups), coef_at = layout.add<float>(rows);
  const StatisticsScratch statistics(layout, positions, rows, b.num_pairs);
  const GroupScratch groups(layout, b.num_groups);
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);

  return with_workspace(layout.bytes(), stream, [&](void* base) -> grpo4j_status {
    const PhaseWorkspace workspace = phase_workspace(at<void>(base, workspace_at), rows, b.tokens.seq_len);
    double* group_stats = at<double>(base, stats_at);
    double* group_coef = at<double>(base, group_coef_at);
    FlagState* flags = nullptr;
    grpo4j_status launched = run_statistics(o, b, group_stats, workspace, base, statistics, stream, &flags);
    if (launched == GRPO4J_OK)
      launched = run_group_step(o, b, group_stats, train, group_coef, flags, base, groups, stream);
    if (launched != GRPO4J_OK || !train) return launched;
    return run_gradient(b, workspace, group_coef, at<float>(base, coef_at), stream);
  });
}

grpo4j_status cuda_loss_statistics(const grpo4j_options& o, const grpo4j_batch& b, double* group_stats,
                                   void* workspace, void* stream_handle) {
  grpo4j_status status = require_device();
  if (status == GRPO4J_OK) status = check_pair_inputs(b);
  if (status == GRPO4J_OK) status = check_outputs(b.out);
  if (status == GRPO4J_OK) status = check_device_pointer(group_stats, "group_stats", 8);
  if (status == GRPO4J_OK) status = check_device_pointer(workspace, "workspace", 16);
  if (status != GRPO4J_OK) return status;
  const int64_t rows = b.tokens.rows;
  WorkspaceLayout layout;
  const StatisticsScratch statistics(layout, rows * b.tokens.seq_len, rows, b.num_pairs);
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  return with_workspace(layout.bytes(), stream, [&](void* base) -> grpo4j_status {
    return run_statistics(o, b, group_stats, phase_workspace(workspace, rows, b.tokens.seq_len), base, statistics,
                          stream, nullptr);
  });
}

grpo4j_status cuda_group_step(const grpo4j_options& o, const grpo4j_batch& b, const double* group_stats, bool update,
                              double* group_coef, void* stream_handle) {
  grpo4j_status status = require_device();
  if (status == GRPO4J_OK) status = check_group_state(b);
  if (status == GRPO4J_OK) status = check_outputs(b.out);
  if (status == GRPO4J_OK) status = check_device_pointer(group_stats, "group_stats", 8);
  if (status == GRPO4J_OK && group_coef) status = check_device_pointer(group_coef, "group_coef", 8);
  if (status != GRPO4J_OK) return status;
  WorkspaceLayout layout;
  const GroupScratch groups(layout, b.num_groups);
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  return with_workspace(layout.bytes(), stream, [&](void* base) -> grpo4j_status {
    return run_group_step(o, b, group_stats, update, group_coef, nullptr, base, groups, stream);
  });
}

grpo4j_status cuda_logits_gradient(const grpo4j_batch& b, const void* workspace, const double* group_coef,
                                   void* stream_handle) {
  grpo4j_status status = require_device();
  if (status == GRPO4J_OK) status = check_pair_inputs(b);
  if (status == GRPO4J_OK) status = check_device_pointer(b.grad, "batch.grad", element_size(b.tokens.logits_type));
  if (status == GRPO4J_OK && b.out.flags) status = check_device_pointer(b.out.flags, "out.flags", 4);
  if (status == GRPO4J_OK) status = check_device_pointer(workspace, "workspace", 16);
  if (status == GRPO4J_OK) status = check_device_pointer(group_coef, "group_coef", 8);
  if (status != GRPO4J_OK) return status;
  WorkspaceLayout layout;
  const size_t coef_at = layout.add<float>(b.tokens.rows);
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  const PhaseWorkspace phase = phase_workspace(const_cast<void*>(workspace), b.tokens.rows, b.tokens.seq_len);
  return with_workspace(layout.bytes(), stream, [&](void* base) -> grpo4j_status {
    return run_gradient(b, phase, group_coef, at<float>(base, coef_at), stream);
  });
}

grpo4j_status cuda_sequence_statistics(const grpo4j_options& o, const grpo4j_batch& b, const float* logps,
                                       const int32_t* token_counts, double* group_stats, double* dloss,
                                       void* stream_handle) {
  grpo4j_status status = require_device();
  if (status == GRPO4J_OK) status = check_device_pointer(b.ref_logps, "batch.ref_logps", 4);
  if (status == GRPO4J_OK) status = check_device_pointer(b.group_ids, "batch.group_ids", 4);
  if (status == GRPO4J_OK) status = check_device_pointer(logps, "logps", 4);
  if (status == GRPO4J_OK && token_counts) status = check_device_pointer(token_counts, "token_counts", 4);
  if (status == GRPO4J_OK) status = check_device_pointer(group_stats, "group_stats", 8);
  if (status == GRPO4J_OK) status = check_device_pointer(dloss, "dloss", 8);
  if (status == GRPO4J_OK) status = check_outputs(b.out);
  if (status != GRPO4J_OK) return status;
  const int64_t rows = 2 * b.num_pairs;
  WorkspaceLayout layout;
  const size_t flags_at = layout.add<FlagState>(1), row_sum_at = layout.add<double>(rows);
  const size_t pair_loss_at = layout.add<double>(b.num_pairs), row_count_at = layout.add<int32_t>(rows);
  const size_t sorted_at = layout.add<double>(3 * b.num_pairs);
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  return with_workspace(layout.bytes(), stream, [&](void* base) -> grpo4j_status {
    FlagState* flags = at<FlagState>(base, flags_at);
    grpo4j_status launched = reset_flags(flags, stream);
    if (launched != GRPO4J_OK) return launched;
    cuda::StatisticsArgs args{};
    args.options = o;
    args.num_groups = b.num_groups;
    args.rows = rows;
    args.seq_len = 1;
    args.vocab = 1;
    args.num_pairs = b.num_pairs;
    args.sequence_logps = logps;
    args.sequence_counts = token_counts;
    args.ref_logps = b.ref_logps;
    args.group_ids = b.group_ids;
    args.flags = flags;
    args.out = b.out;
    args.dloss = dloss;
    args.group_stats = group_stats;
    args.row_sum = at<double>(base, row_sum_at);
    args.pair_loss = at<double>(base, pair_loss_at);
    args.row_count = at<int32_t>(base, row_count_at);
    args.sorted = at<double>(base, sorted_at);
    return cuda_status(cuda::launch_loss_statistics(args, stream), "launching the sequence statistics");
  });
}

grpo4j_status cuda_sequence_gradient(const grpo4j_batch& b, const double* dloss, const double* group_coef,
                                     float* row_coef, void* stream_handle) {
  grpo4j_status status = require_device();
  if (status == GRPO4J_OK) status = check_device_pointer(b.group_ids, "batch.group_ids", 4);
  if (status == GRPO4J_OK) status = check_device_pointer(dloss, "dloss", 8);
  if (status == GRPO4J_OK) status = check_device_pointer(group_coef, "group_coef", 8);
  if (status == GRPO4J_OK) status = check_device_pointer(row_coef, "row_coef", 4);
  if (status == GRPO4J_OK && b.out.flags) status = check_device_pointer(b.out.flags, "out.flags", 4);
  if (status != GRPO4J_OK) return status;
  return cuda_status(cuda::launch_row_coefficients(b.group_ids, b.num_pairs, b.num_groups, group_coef, dloss,
                                                   GRPO4J_F32, row_coef, b.out.flags,
                                                   static_cast<cudaStream_t>(stream_handle)),
                     "launching the row coefficients");
}

grpo4j_status cuda_token_logprobs(const grpo4j_tokens& tokens, void* stats, float* logps, int32_t* flags_out,
                                  void* stream_handle) {
  grpo4j_status status = require_device();
  if (status == GRPO4J_OK) status = check_tokens(tokens);
  if (status == GRPO4J_OK) status = check_device_pointer(stats, "stats", 8);
  if (status == GRPO4J_OK) status = check_device_pointer(logps, "logps", 4);
  if (status == GRPO4J_OK && flags_out) status = check_device_pointer(flags_out, "flags", 4);
  if (status != GRPO4J_OK) return status;
  WorkspaceLayout layout;
  const size_t flags_at = layout.add<FlagState>(1);
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  return with_workspace(layout.bytes(), stream, [&](void* base) -> grpo4j_status {
    FlagState* flags = at<FlagState>(base, flags_at);
    grpo4j_status launched = reset_flags(flags, stream);
    if (launched != GRPO4J_OK) return launched;
    launched = cuda_status(cuda::launch_token_logprobs(positions_as_rows(tokens), static_cast<float2*>(stats), logps,
                                                       flags, stream),
                           "launching the token log-probs");
    if (launched != GRPO4J_OK || !flags_out) return launched;
    GRPO4J_CUDA_TRY(cudaMemcpyAsync(flags_out, &flags->flags, sizeof(int32_t), cudaMemcpyDeviceToDevice, stream));
    return GRPO4J_OK;
  });
}

grpo4j_status cuda_token_gradient(const grpo4j_tokens& tokens, const void* stats, const float* coef, void* grad,
                                  void* stream_handle) {
  grpo4j_status status = require_device();
  if (status == GRPO4J_OK) status = check_tokens(tokens);
  if (status == GRPO4J_OK) status = check_device_pointer(stats, "stats", 8);
  if (status == GRPO4J_OK) status = check_device_pointer(coef, "coef", 4);
  if (status == GRPO4J_OK) status = check_device_pointer(grad, "grad", element_size(tokens.logits_type));
  if (status != GRPO4J_OK) return status;
  return cuda_status(cuda::launch_logits_gradient(positions_as_rows(tokens), grad, static_cast<const float2*>(stats),
                                                  coef, static_cast<cudaStream_t>(stream_handle)),
                     "launching the token gradient");
}

grpo4j_status cuda_sequence_logprobs(const grpo4j_tokens& tk, float* logps, int32_t* token_counts, int32_t* flags_out,
                                     void* stream_handle) {
  grpo4j_status status = require_device();
  if (status != GRPO4J_OK) return status;
  status = check_tokens(tk);
  if (status == GRPO4J_OK) status = check_device_pointer(logps, "logps", 4);
  if (status == GRPO4J_OK && token_counts) status = check_device_pointer(token_counts, "token_counts", 4);
  if (status == GRPO4J_OK && flags_out) status = check_device_pointer(flags_out, "flags", 4);
  if (status != GRPO4J_OK) return status;

  const int64_t positions = tk.rows * tk.seq_len;
  WorkspaceLayout layout;
  const size_t stats_at = layout.add<float2>(positions), logp_at = layout.add<float>(positions);
  const size_t flags_at = layout.add<FlagState>(1);
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);

  return with_workspace(layout.bytes(), stream, [&](void* base) -> grpo4j_status {
    float* logp = at<float>(base, logp_at);
    FlagState* flags = at<FlagState>(base, flags_at);
    grpo4j_status launched = reset_flags(flags, stream);
    if (launched != GRPO4J_OK) return launched;
    launched = cuda_status(cuda::launch_token_logprobs(tk, at<float2>(base, stats_at), logp, flags, stream),
                           "launching pass 1 (token log-probs)");
    if (launched != GRPO4J_OK) return launched;
    return cuda_status(cuda::launch_sequence_sums(tk, logp, flags, logps, token_counts, flags_out, stream),
                       "launching the sequence sums");
  });
}

}  // namespace grpo4j
