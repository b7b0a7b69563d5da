// CUDA entry points of a library built without nvcc: every one reports that no CUDA device is usable.
#include "internal.h"

namespace grpo4j {

namespace {
grpo4j_status not_built() {
  return fail(GRPO4J_NO_CUDA_DEVICE,
              "this grpo4j library was built without its CUDA backend (nvcc was not found at build time): "
              "use the CPU backend, or rebuild on a machine with the CUDA toolkit");
}
}  // namespace

grpo4j_status cuda_loss(const grpo4j_options&, const grpo4j_batch&, bool, void*) { return not_built(); }
grpo4j_status cuda_sequence_logprobs(const grpo4j_tokens&, float*, int32_t*, int32_t*, void*) { return not_built(); }
grpo4j_status cuda_loss_statistics(const grpo4j_options&, const grpo4j_batch&, double*, void*, void*) {
  return not_built();
}
grpo4j_status cuda_group_step(const grpo4j_options&, const grpo4j_batch&, const double*, bool, double*, void*) {
  return not_built();
}
grpo4j_status cuda_logits_gradient(const grpo4j_batch&, const void*, const double*, void*) { return not_built(); }
grpo4j_status cuda_sequence_statistics(const grpo4j_options&, const grpo4j_batch&, const float*, const int32_t*, double*,
                                       double*, void*) {
  return not_built();
}
grpo4j_status cuda_sequence_gradient(const grpo4j_batch&, const double*, const double*, float*, void*) {
  return not_built();
}
grpo4j_status cuda_token_logprobs(const grpo4j_tokens&, void*, float*, int32_t*, void*) { return not_built(); }
grpo4j_status cuda_token_gradient(const grpo4j_tokens&, const void*, const float*, void*, void*) { return not_built(); }

}  // namespace grpo4j

extern "C" {
int32_t grpo4j_cuda_compiled(void) { return 0; }
grpo4j_status grpo4j_cuda_device_count(int32_t* count) {
  if (count) *count = 0;
  return grpo4j::not_built();
}
grpo4j_status grpo4j_cuda_malloc(void** ptr, int64_t) {
  if (ptr) *ptr = nullptr;
  return grpo4j::not_built();
}
grpo4j_status grpo4j_cuda_free(void*) { return grpo4j::not_built(); }
grpo4j_status grpo4j_cuda_memcpy(void*, const void*, int64_t, void*) { return grpo4j::not_built(); }
grpo4j_status grpo4j_cuda_synchronize(void*) { return grpo4j::not_built(); }
}
