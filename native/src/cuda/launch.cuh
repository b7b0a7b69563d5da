// The two constructs that nvcc and the CPU emulation of CUDA (native/tests/cuda_emulation) spell differently; the
// emulation builds these same sources so that every build runs the kernels' logic, GPU or not.
//   GRPO4J_LAUNCH(grid, block, shared_bytes, stream, kernel)(arguments...)
//       a kernel launch; the kernel comes last so that a template's commas need no parentheses
//   GRPO4J_DYNAMIC_SHARED(type, name);
//       the launch's dynamic shared memory, as an array of type
#ifndef GRPO4J_LAUNCH_CUH
#define GRPO4J_LAUNCH_CUH

#if defined(GRPO4J_CUDA_EMULATION)
#define GRPO4J_LAUNCH(grid, block, shared_bytes, stream, ...) \
  ::grpo4j_emulation::launch(__VA_ARGS__, grid, block, shared_bytes, stream)
#define GRPO4J_DYNAMIC_SHARED(type, name) \
  type* const name = static_cast<type*>(::grpo4j_emulation::dynamic_shared_memory())
#else
#define GRPO4J_LAUNCH(grid, block, shared_bytes, stream, ...) __VA_ARGS__<<<grid, block, shared_bytes, stream>>>
#define GRPO4J_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

#endif
