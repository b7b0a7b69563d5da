#!/usr/bin/env bash
# Builds the native library and its tests with AddressSanitizer + UBSan (the CPU backends, and the CUDA backend on
# the CPU emulation of CUDA) and runs ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
build=native/build-asan
cmake -S native -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRPO4J_SANITIZE=ON >/dev/null
cmake --build "$build" --parallel 2
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir "$build" --output-on-failure
