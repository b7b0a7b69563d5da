// Instruction-set versions of the routines in intrinsics.h. GCC builds each function once per target
// attribute and picks one at load time by CPUID; the "default" versions use only baseline x86-64 (SSE2)
// so that no CPU ever meets an instruction it lacks. (They are marked unused because a build for a newer
// -march resolves every call statically to a wider version.)
#include "intrinsics.h"

#include <string.h>

#include "vector_math.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define GRPO4J_X86_VERSIONS 1
#endif

namespace grpo4j {
namespace cpu {
namespace {

#if GRPO4J_X86_VERSIONS

// Bytes from dst to the next multiple of `alignment` (at most `bytes`).
int64_t unaligned_head(const void* dst, int64_t bytes, int64_t alignment) {
  const int64_t head = (int64_t)(-(uintptr_t)dst & (uintptr_t)(alignment - 1));
  return head < bytes ? head : bytes;
}

__attribute__((target("default"), unused)) void widen_f16(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f16_load(src[i]);
}

__attribute__((target("avx,f16c"))) void widen_f16(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(src + i))));
  for (; i < n; ++i) dst[i] = f16_load(src[i]);
}

__attribute__((target("default"), unused)) void narrow_f16(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f16_store(src[i]);
}

__attribute__((target("avx,f16c"))) void narrow_f16(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i*)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) dst[i] = f16_store(src[i]);
}

__attribute__((target("default"), unused)) void copy_streaming(void* dst, const void* src, int64_t bytes) {
  char* d = (char*)dst;
  const char* s = (const char*)src;
  int64_t i = unaligned_head(d, bytes, 16);
  memcpy(d, s, i);
  for (; i + 16 <= bytes; i += 16) _mm_stream_si128((__m128i*)(d + i), _mm_loadu_si128((const __m128i*)(s + i)));
  memcpy(d + i, s + i, bytes - i);
  _mm_sfence();
}

__attribute__((target("avx"))) void copy_streaming(void* dst, const void* src, int64_t bytes) {
  char* d = (char*)dst;
  const char* s = (const char*)src;
  int64_t i = unaligned_head(d, bytes, 32);
  memcpy(d, s, i);
  for (; i + 32 <= bytes; i += 32) _mm256_stream_ps((float*)(d + i), _mm256_loadu_ps((const float*)(s + i)));
  memcpy(d + i, s + i, bytes - i);
  _mm_sfence();
}

__attribute__((target("avx512f"))) void copy_streaming(void* dst, const void* src, int64_t bytes) {
  char* d = (char*)dst;
  const char* s = (const char*)src;
  int64_t i = unaligned_head(d, bytes, 64);
  memcpy(d, s, i);
  for (; i + 64 <= bytes; i += 64) _mm512_stream_ps((float*)(d + i), _mm512_loadu_ps((const float*)(s + i)));
  memcpy(d + i, s + i, bytes - i);
  _mm_sfence();
}

#else

void widen_f16(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f16_load(src[i]);
}

void narrow_f16(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f16_store(src[i]);
}

void copy_streaming(void* dst, const void* src, int64_t bytes) { memcpy(dst, src, bytes); }

#endif

}  // namespace

void f16_widen(const uint16_t* src, float* dst, int64_t n) { widen_f16(src, dst, n); }

void f16_narrow(const float* src, uint16_t* dst, int64_t n) { narrow_f16(src, dst, n); }

void stream_copy(void* dst, const void* src, int64_t bytes) { copy_streaming(dst, src, bytes); }

}  // namespace cpu
}  // namespace grpo4j
