// The few CPU routines that need instruction-set intrinsics rather than auto-vectorised loops: half-float
// conversion with F16C and non-temporal stores. Each has one version per instruction set (GCC function
// multiversioning, resolved at load time), so the library still runs on any x86-64; elsewhere they are
// plain loops.
#ifndef GRPO4J_CPU_INTRINSICS_H
#define GRPO4J_CPU_INTRINSICS_H

#include <stdint.h>

namespace grpo4j {
namespace cpu {

// n IEEE halves to floats, exactly (NaNs stay NaN).
void f16_widen(const uint16_t* src, float* dst, int64_t n);

// n floats to IEEE halves, rounding to nearest even, with subnormals and overflow to infinity; the same
// results as grpo4j::float_to_f16 except for the payload bits of NaNs.
void f16_narrow(const float* src, uint16_t* dst, int64_t n);

// memcpy with non-temporal stores where the CPU has them: the destination lines are written without being
// read first and without displacing cached data. Ends with a store fence, as non-temporal stores are
// weakly ordered.
void stream_copy(void* dst, const void* src, int64_t bytes);

}  // namespace cpu
}  // namespace grpo4j

#endif
