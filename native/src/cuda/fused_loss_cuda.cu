// The CUDA backend's entry points behind grpo4j_loss_forward_backward / grpo4j_loss_forward /
// grpo4j_sequence_logprobs. For P = rows * T positions and logits [rows, T, V]:
//   pass 1 (token_logprobs_cuda.cu): read the logits once: per-position (max, log_sum) and log-prob, flags;
//   step   (group_step_cuda.cu):     one block: row sums, pair and group math, weight update, outputs, coef_r;
//   pass 3 (logits_gradient_cuda.cu, training only): read the logits again, write the gradient once.
// That is the traffic floor of SPEC §3: logits read twice, gradient written once; the per-position
// intermediates (12 bytes per position) and the step are noise beside it.
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

}  // namespace

grpo4j_status cuda_loss(const grpo4j_options& o, const grpo4j_batch& b, bool train, void* stream_handle) {
  grpo4j_status status = require_device();
  if (status != GRPO4J_OK) return status;
  const grpo4j_tokens& tk = b.tokens;
  status = check_tokens(tk);
  if (status == GRPO4J_OK) status = check_device_pointer(b.ref_logps, "batch.ref_logps", 4);
  if (status == GRPO4J_OK) status = check_device_pointer(b.group_ids, "batch.group_ids", 4);
  if (status == GRPO4J_OK && b.group_sizes) status = check_device_pointer(b.group_sizes, "batch.group_sizes", 8);
  if (status == GRPO4J_OK && b.log_alpha) status = check_device_pointer(b.log_alpha, "batch.log_alpha", 8);
  if (status == GRPO4J_OK && train)
    status = check_device_pointer(b.grad, "batch.grad", element_size(tk.logits_type));
  const grpo4j_outputs& out = b.out;
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
  for (const auto& output : outputs)
    if (status == GRPO4J_OK && output.pointer) status = check_device_pointer(output.pointer, output.name, 4);
  if (status != GRPO4J_OK) return status;

  const int64_t positions = tk.rows * tk.seq_len, B = b.num_pairs, K = b.num_groups;
  WorkspaceLayout layout;
  const size_t stats_at = layout.add<float2>(positions), logp_at = layout.add<float>(positions);
  const size_t flags_at = layout.add<FlagState>(1), coef_at = layout.add<float>(tk.rows);
  const size_t row_sum_at = layout.add<double>(tk.rows), row_count_at = layout.add<int32_t>(tk.rows);
  const size_t pair_loss_at = layout.add<double>(B), pair_dchosen_at = layout.add<double>(B);
  const size_t pair_drejected_at = layout.add<double>(B);
  const size_t group_norm_at = layout.add<double>(K);
  const size_t group_adjusted_at = layout.add<double>(K), group_alpha_at = layout.add<double>(K);
  const size_t group_w_at = layout.add<double>(K), group_n_at = layout.add<int32_t>(K);
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);

  return with_workspace(layout.bytes(), stream, [&](void* base) -> grpo4j_status {
    float2* stats = at<float2>(base, stats_at);
    float* logp = at<float>(base, logp_at);
    FlagState* flags = at<FlagState>(base, flags_at);
    float* coef = at<float>(base, coef_at);
    grpo4j_status launched = reset_flags(flags, stream);
    if (launched != GRPO4J_OK) return launched;
    launched = cuda_status(cuda::launch_token_logprobs(tk, stats, logp, flags, stream), "launching pass 1 (token log-probs)");
    if (launched != GRPO4J_OK) return launched;

    cuda::StepArgs step{};
    step.options = o;
    step.labels = tk.labels;
    step.label_type = tk.label_type;
    step.num_groups = b.num_groups;
    step.rows = tk.rows;
    step.seq_len = tk.seq_len;
    step.vocab = tk.vocab;
    step.num_pairs = B;
    step.logp = logp;
    step.ref_logps = b.ref_logps;
    step.group_ids = b.group_ids;
    step.group_sizes = b.group_sizes;
    step.log_alpha = b.log_alpha;
    step.train = train ? 1 : 0;
    step.logits_type = tk.logits_type;
    step.out = out;
    step.flags = flags;
    step.coef = coef;
    step.row_sum = at<double>(base, row_sum_at);
    step.row_count = at<int32_t>(base, row_count_at);
    step.pair_loss = at<double>(base, pair_loss_at);
    step.pair_dchosen = at<double>(base, pair_dchosen_at);
    step.pair_drejected = at<double>(base, pair_drejected_at);
    step.group_norm = at<double>(base, group_norm_at);
    step.group_adjusted = at<double>(base, group_adjusted_at);
    step.group_alpha = at<double>(base, group_alpha_at);
    step.group_w = at<double>(base, group_w_at);
    step.group_n = at<int32_t>(base, group_n_at);
    launched = cuda_status(cuda::launch_group_step(step, stream), "launching the group step");
    if (launched != GRPO4J_OK || !train) return launched;
    return cuda_status(cuda::launch_logits_gradient(tk, b.grad, stats, coef, stream),
                       "launching pass 3 (logits gradient)");
  });
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
