// The CPU emulation's scheduler and runtime (emulation.h, cuda_runtime.h). A block's threads are ucontext
// coroutines on the launching host thread; the scheduler resumes them in thread order and releases a barrier
// once every thread that has not returned waits at it. A block barrier with a thread waiting at a warp shuffle,
// or the reverse, is a deadlock on a GPU too: the launch aborts the process with a message naming the kernel
// call's grid position.
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <vector>

#include "cuda_runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#define GRPO4J_EMULATION_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

struct CUstream_st {
  int unused;
};
struct CUevent_st {
  std::chrono::steady_clock::time_point time;
};
struct CUmemPoolHandle_st {
  int unused;
};

namespace grpo4j_emulation {
namespace {

constexpr int kWarpSize = 32;
constexpr unsigned int kMaxThreadsPerBlock = 1024;
constexpr size_t kDefaultSharedLimit = 48 * 1024;
// Kernels keep little on their stacks; sanitizers grow frames several times over.
constexpr size_t kStackBytes = 256 * 1024;

enum class State { kRunnable, kAtBlockBarrier, kAtWarpBarrier, kDone };

struct Thread {
  dim3 index;
  ucontext_t context;
  void* stack = nullptr;
  State state = State::kRunnable;
  unsigned shuffles = 0;  // shuffles done so far: selects the warp's exchange buffer
};

struct Block {
  dim3 index, dim, grid;
  void* dynamic_shared = nullptr;
  std::vector<Thread> threads;
  std::vector<uint64_t> exchange;  // [warps][2][32]
  int current = -1;
  ucontext_t scheduler;
  const std::function<void()>* body = nullptr;
#if GRPO4J_EMULATION_ASAN
  void* scheduler_fake_stack = nullptr;
  const void* scheduler_stack_bottom = nullptr;
  size_t scheduler_stack_size = 0;
#endif
};

thread_local Block* g_block = nullptr;
thread_local cudaError_t g_last_error = cudaSuccess;
thread_local std::vector<void*> g_stacks;

std::mutex g_allocations_mutex;
std::map<uintptr_t, size_t> g_allocations;  // device allocations: base -> bytes

Thread& current_thread() { return g_block->threads[g_block->current]; }

// GRPO4J_CUDA_EMULATION_ORDER=reverse runs blocks and, between barriers, threads last to first. A missing
// __syncthreads (or a kernel that counts on block order) usually hides in one order and shows in the other: ctest
// runs the suite in both.
bool reverse_order() {
  static const bool reverse = [] {
    const char* order = getenv("GRPO4J_CUDA_EMULATION_ORDER");
    return order && !strcmp(order, "reverse");
  }();
  return reverse;
}

// Back to the scheduler from a coroutine (its state says why).
void yield() {
  Block& b = *g_block;
  Thread& t = current_thread();
#if GRPO4J_EMULATION_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(t.state == State::kDone ? nullptr : &fake_stack, b.scheduler_stack_bottom,
                                 b.scheduler_stack_size);
  swapcontext(&t.context, &b.scheduler);
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#else
  swapcontext(&t.context, &b.scheduler);
#endif
}

void thread_entry() {
#if GRPO4J_EMULATION_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &g_block->scheduler_stack_bottom, &g_block->scheduler_stack_size);
#endif
  (*g_block->body)();
  current_thread().state = State::kDone;
  yield();
}

void resume(Block& b, int i) {
  b.current = i;
  Thread& t = b.threads[i];
#if GRPO4J_EMULATION_ASAN
  __sanitizer_start_switch_fiber(&b.scheduler_fake_stack, t.stack, kStackBytes);
  swapcontext(&b.scheduler, &t.context);
  __sanitizer_finish_switch_fiber(b.scheduler_fake_stack, &b.scheduler_stack_bottom, &b.scheduler_stack_size);
#else
  swapcontext(&b.scheduler, &t.context);
#endif
  b.current = -1;
}

[[noreturn]] void deadlock(const Block& b, const char* why) {
  fprintf(stderr,
          "grpo4j CUDA emulation: deadlock in block (%u, %u, %u) of a (%u, %u, %u) x (%u, %u, %u) launch: %s\n",
          b.index.x, b.index.y, b.index.z, b.grid.x, b.grid.y, b.grid.z, b.dim.x, b.dim.y, b.dim.z, why);
  abort();
}

// Releases what can be released; false when every thread has returned.
bool release_barriers(Block& b) {
  const int n = (int)b.threads.size();
  int done = 0, at_block = 0;
  for (const Thread& t : b.threads) {
    done += t.state == State::kDone;
    at_block += t.state == State::kAtBlockBarrier;
  }
  if (done == n) return false;
  bool released = false;
  if (at_block == n - done) {
    for (Thread& t : b.threads)
      if (t.state == State::kAtBlockBarrier) t.state = State::kRunnable;
    return true;
  }
  for (int w = 0; w * kWarpSize < n; ++w) {
    const int first = w * kWarpSize, last = std::min(n, first + kWarpSize);
    int waiting = 0, live = 0;
    for (int i = first; i < last; ++i) {
      live += b.threads[i].state != State::kDone;
      waiting += b.threads[i].state == State::kAtWarpBarrier;
    }
    if (waiting > 0 && waiting == live) {
      for (int i = first; i < last; ++i)
        if (b.threads[i].state == State::kAtWarpBarrier) b.threads[i].state = State::kRunnable;
      released = true;
    }
  }
  if (!released)
    deadlock(b, at_block > 0 ? "__syncthreads is not reached by every thread that has not returned (some wait at a "
                               "warp shuffle)"
                             : "a warp shuffle is not reached by every lane of the warp");
  return true;
}

void run_block(Block& b) {
  const int n = (int)b.threads.size();
  while ((int)g_stacks.size() < n) {
    void* stack = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) {
      perror("grpo4j CUDA emulation: mmap of a thread stack");
      abort();
    }
    g_stacks.push_back(stack);
  }
  for (int i = 0; i < n; ++i) {
    Thread& t = b.threads[i];
    t.index = dim3(i % b.dim.x, (i / b.dim.x) % b.dim.y, i / (b.dim.x * b.dim.y));
    t.state = State::kRunnable;
    t.shuffles = 0;
    t.stack = g_stacks[i];
#if GRPO4J_EMULATION_ASAN
    // The last block's coroutines never returned from their frames: their poisoned redzones are stale.
    ASAN_UNPOISON_MEMORY_REGION(t.stack, kStackBytes);
#endif
    getcontext(&t.context);
    t.context.uc_stack.ss_sp = t.stack;
    t.context.uc_stack.ss_size = kStackBytes;
    t.context.uc_link = nullptr;
    makecontext(&t.context, thread_entry, 0);
  }
  do {
    for (int k = 0; k < n; ++k) {
      const int i = reverse_order() ? n - 1 - k : k;
      while (b.threads[i].state == State::kRunnable) resume(b, i);
    }
  } while (release_barriers(b));
}

const char* error_name(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    default: return "cudaError (emulation: unnamed)";
  }
}

cudaError_t set_error(cudaError_t error) {
  if (error != cudaSuccess) g_last_error = error;
  return error;
}

bool is_device(const void* pointer) {
  const uintptr_t p = reinterpret_cast<uintptr_t>(pointer);
  std::lock_guard<std::mutex> lock(g_allocations_mutex);
  auto it = g_allocations.upper_bound(p);
  if (it == g_allocations.begin()) return false;
  --it;
  return p < it->first + (it->second ? it->second : 1);
}

}  // namespace

const dim3& thread_index() { return current_thread().index; }
const dim3& block_index() { return g_block->index; }
const dim3& block_dim() { return g_block->dim; }
const dim3& grid_dim() { return g_block->grid; }
void* dynamic_shared_memory() { return g_block->dynamic_shared; }

void sync_threads() {
  current_thread().state = State::kAtBlockBarrier;
  yield();
}

uint64_t shuffle_xor(uint64_t bits, int lane_mask) {
  Block& b = *g_block;
  const int i = b.current;
  const int warp = i / kWarpSize, lane = i % kWarpSize;
  const int partner = lane ^ lane_mask;
  Thread& t = b.threads[i];
  // Two buffers by parity: a lane can be at most one shuffle ahead of the slowest lane of its warp.
  uint64_t* buffer = &b.exchange[((size_t)warp * 2 + (t.shuffles & 1u)) * kWarpSize];
  ++t.shuffles;
  buffer[lane] = bits;
  t.state = State::kAtWarpBarrier;
  yield();
  const int width = std::min(kWarpSize, (int)b.threads.size() - warp * kWarpSize);
  return partner < width ? buffer[partner] : bits;
}

cudaError_t run_grid(dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t, std::function<void()> body) {
  const unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
  if (threads == 0 || threads > kMaxThreadsPerBlock || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535)
    return set_error(cudaErrorInvalidConfiguration);
  if (shared_bytes > kDefaultSharedLimit) return set_error(cudaErrorInvalidValue);
  if (g_block) {
    fprintf(stderr, "grpo4j CUDA emulation: a kernel launched another kernel\n");
    abort();
  }
  Block b;
  b.dim = block;
  b.grid = grid;
  b.body = &body;
  b.threads.resize(threads);
  b.exchange.assign(((threads + kWarpSize - 1) / kWarpSize) * 2 * kWarpSize, 0);
  // Fresh bytes per launch, never zeroed on a GPU either: a pattern makes reads before writes visible.
  std::vector<unsigned char> shared(shared_bytes + 16, 0xa5);
  b.dynamic_shared = shared.data();
  g_block = &b;
  const unsigned long long blocks = (unsigned long long)grid.x * grid.y * grid.z;
  for (unsigned long long k = 0; k < blocks; ++k) {
    const unsigned long long i = reverse_order() ? blocks - 1 - k : k;
    b.index = dim3((unsigned int)(i % grid.x), (unsigned int)(i / grid.x % grid.y),
                   (unsigned int)(i / ((unsigned long long)grid.x * grid.y)));
    run_block(b);
  }
  g_block = nullptr;
  return cudaSuccess;
}

}  // namespace grpo4j_emulation

using grpo4j_emulation::is_device;
using grpo4j_emulation::set_error;

const char* cudaGetErrorString(cudaError_t error) {
  return error == cudaSuccess ? "no error" : grpo4j_emulation::error_name(error);
}
const char* cudaGetErrorName(cudaError_t error) { return grpo4j_emulation::error_name(error); }

cudaError_t cudaGetLastError() {
  const cudaError_t error = grpo4j_emulation::g_last_error;
  grpo4j_emulation::g_last_error = cudaSuccess;
  return error;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* properties, int device) {
  if (device != 0) return set_error(cudaErrorInvalidDevice);
  memset(properties, 0, sizeof *properties);
  snprintf(properties->name, sizeof properties->name, "grpo4j CUDA emulation on the CPU");
  properties->totalGlobalMem = (size_t)1 << 34;
  properties->multiProcessorCount = 1;
  properties->major = 9;
  properties->minor = 0;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int) {
  *value = attribute == cudaDevAttrMemoryPoolsSupported ? 1 : 0;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** pointer, size_t bytes) {
  *pointer = nullptr;
  void* p = nullptr;
  // Exactly `bytes`, so that AddressSanitizer sees any access past the end.
  if (posix_memalign(&p, 256, bytes ? bytes : 1) != 0) return set_error(cudaErrorMemoryAllocation);
  std::lock_guard<std::mutex> lock(grpo4j_emulation::g_allocations_mutex);
  grpo4j_emulation::g_allocations[reinterpret_cast<uintptr_t>(p)] = bytes;
  *pointer = p;
  return cudaSuccess;
}
cudaError_t cudaFree(void* pointer) {
  if (!pointer) return cudaSuccess;
  std::lock_guard<std::mutex> lock(grpo4j_emulation::g_allocations_mutex);
  if (!grpo4j_emulation::g_allocations.erase(reinterpret_cast<uintptr_t>(pointer)))
    return set_error(cudaErrorInvalidDevicePointer);
  free(pointer);
  return cudaSuccess;
}
cudaError_t cudaMallocAsync(void** pointer, size_t bytes, cudaStream_t) { return cudaMalloc(pointer, bytes); }
cudaError_t cudaMallocFromPoolAsync(void** pointer, size_t bytes, cudaMemPool_t pool, cudaStream_t) {
  if (!pool) return set_error(cudaErrorInvalidValue);
  return cudaMalloc(pointer, bytes);
}
cudaError_t cudaFreeAsync(void* pointer, cudaStream_t) { return cudaFree(pointer); }
cudaError_t cudaMemPoolCreate(cudaMemPool_t* pool, const cudaMemPoolProps*) {
  // Pools live as long as the process, as the library keeps its own: one object serves them all.
  static CUmemPoolHandle_st the_pool;
  *pool = &the_pool;
  return cudaSuccess;
}
cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t, cudaMemPoolAttr, void*) { return cudaSuccess; }

cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attributes, const void* pointer) {
  memset(attributes, 0, sizeof *attributes);
  if (pointer && is_device(pointer)) {
    attributes->type = cudaMemoryTypeDevice;
    attributes->devicePointer = const_cast<void*>(pointer);
  } else {
    attributes->type = cudaMemoryTypeUnregistered;
    attributes->hostPointer = const_cast<void*>(pointer);
  }
  return cudaSuccess;
}

// An explicit direction must match where the pointers live, as the GPU's copy engines require.
static bool direction_matches(const void* dst, const void* src, cudaMemcpyKind kind) {
  switch (kind) {
    case cudaMemcpyHostToHost: return !is_device(dst) && !is_device(src);
    case cudaMemcpyHostToDevice: return is_device(dst) && !is_device(src);
    case cudaMemcpyDeviceToHost: return !is_device(dst) && is_device(src);
    case cudaMemcpyDeviceToDevice: return is_device(dst) && is_device(src);
    default: return true;
  }
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (bytes == 0) return cudaSuccess;
  if (!direction_matches(dst, src, kind)) return set_error(cudaErrorInvalidMemcpyDirection);
  memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemset(void* pointer, int value, size_t bytes) {
  if (bytes == 0) return cudaSuccess;
  if (!is_device(pointer)) return set_error(cudaErrorInvalidValue);
  memset(pointer, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* pointer, int value, size_t bytes, cudaStream_t) {
  return cudaMemset(pointer, value, bytes);
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  *stream = new CUstream_st{};
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int) { return cudaStreamCreate(stream); }
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new CUevent_st{std::chrono::steady_clock::now()};
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  event->time = std::chrono::steady_clock::now();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* milliseconds, cudaEvent_t start, cudaEvent_t end) {
  *milliseconds = std::chrono::duration<float, std::milli>(end->time - start->time).count();
  return cudaSuccess;
}
