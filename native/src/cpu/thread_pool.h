// A small persistent thread pool for the CPU backend. Not OpenMP: the library lives in a JVM next to
// libtorch's OpenMP runtime, and a second runtime's spinning threads would steal its cores. Idle workers
// here sleep on a condition variable and cost nothing between calls.
//
// parallel_for splits [0, n) into `parts` contiguous slices of nearly equal size (static partition: the
// work per index is uniform, and a fixed split keeps each thread on its own stretch of memory), runs
// slice 0 on the calling thread and the others on workers, and returns when all are done. The pool is
// created on first use and grows to the largest part count asked for; calls from several threads at once
// are serialised. Slice bodies must not throw.
#ifndef GRPO4J_CPU_THREAD_POOL_H
#define GRPO4J_CPU_THREAD_POOL_H

#include <stdint.h>

namespace grpo4j {
namespace cpu {

using PartTask = void (*)(void* context, int part);

// Runs task(context, part) for every part in [0, parts), part 0 on the calling thread.
void run_parts(int parts, PartTask task, void* context);

// First index of slice `part` of [0, n) cut into `parts` slices; slice part is [begin(part), begin(part + 1)).
inline int64_t slice_begin(int64_t n, int parts, int part) {
  const int64_t quotient = n / parts, remainder = n % parts;
  return part * quotient + (part < remainder ? part : remainder);
}

// body(part, begin, end) for `parts` contiguous slices of [0, n); parts <= 1 runs inline without the pool.
// The caller must not ask for more parts than n.
template <typename Body>
void parallel_for(int64_t n, int parts, const Body& body) {
  if (parts <= 1) {
    if (n > 0) body(0, (int64_t)0, n);
    return;
  }
  struct Context {
    const Body* body;
    int64_t n;
    int parts;
  } context{&body, n, parts};
  run_parts(
      parts,
      [](void* c, int part) {
        const Context& x = *static_cast<const Context*>(c);
        (*x.body)(part, slice_begin(x.n, x.parts, part), slice_begin(x.n, x.parts, part + 1));
      },
      &context);
}

}  // namespace cpu
}  // namespace grpo4j

#endif
