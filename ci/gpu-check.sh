#!/usr/bin/env bash
# GPU check of the CUDA backend, for a machine with nvcc, CMake, a GPU and python3 with PyTorch (no Maven, no
# network needed). From the repository root:
#
#   ci/gpu-check.sh
#
# 1. builds the native library and tests with CMake for the local GPU (GRPO4J_CUDA_ARCHITECTURES, default
#    "native", falling back to 90);
# 2. runs test_cuda_vs_reference (CUDA against the double-precision reference, plus the large case);
# 3. runs compute-sanitizer memcheck, racecheck, initcheck and synccheck on `test_cuda_vs_reference --small`;
# 4. runs bench_cuda, JSON to ${OUT:-bench/results}/bench_cuda.json;
# 5. dumps a few cases with `test_cuda_vs_reference --dump` and checks them with ci/torch_oracle.py, an
#    independent float64 PyTorch computation of the objective, the outputs and (autograd) the gradient.
# Every step runs even when an earlier one fails; the full log is ${OUT:-bench/results}/gpu-check.log and the
# summary table is printed last. Exit status 0 only when every step passed.
#
# Environment: OUT (results folder), GRPO4J_CUDA_ARCHITECTURES, GRPO4J_GPU_BUILD (build folder),
# GRPO4J_SANITIZERS (space-separated tools; empty skips them).
set -euo pipefail
cd "$(dirname "$0")/.."

out_dir=${OUT:-bench/results}
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
build=${GRPO4J_GPU_BUILD:-native/build-gpu}
arch=${GRPO4J_CUDA_ARCHITECTURES:-native}
sanitizers=${GRPO4J_SANITIZERS-memcheck racecheck initcheck synccheck}
log=$out_dir/gpu-check.log
work=$(mktemp -d /tmp/grpo4j-gpu-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
: >"$log"

step_names=()
step_results=()
step_seconds=()
failed=0

# step NAME COMMAND... : runs COMMAND, appends its output to the log, shows its last lines (more on failure).
step() {
  local name=$1
  shift
  local start=$SECONDS rc=0
  echo "=== $name" | tee -a "$log"
  echo "\$ $*" >>"$log"
  "$@" >"$work/step.out" 2>&1 || rc=$?
  cat "$work/step.out" >>"$log"
  if [ "$rc" -eq 0 ]; then
    tail -n 3 "$work/step.out"
    step_results+=("ok")
  else
    tail -n 40 "$work/step.out"
    echo "--- $name failed with exit status $rc" | tee -a "$log"
    step_results+=("FAIL ($rc)")
    failed=1
  fi
  step_names+=("$name")
  step_seconds+=($((SECONDS - start)))
  return 0
}

sanitizer_bin=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
test_bin=$build/tests/test_cuda_vs_reference
bench_bin=$build/tests/bench_cuda

configure() {
  if ! cmake -S native -B "$build" -DCMAKE_BUILD_TYPE=Release -DGRPO4J_TESTS=ON \
      -DGRPO4J_CUDA_ARCHITECTURES="$arch"; then
    [ "$arch" = 90 ] && return 1
    echo "configure with architectures '$arch' failed; retrying with 90"
    rm -rf "$build"
    cmake -S native -B "$build" -DCMAKE_BUILD_TYPE=Release -DGRPO4J_TESTS=ON -DGRPO4J_CUDA_ARCHITECTURES=90
  fi
}

build_targets() {
  cmake --build "$build" --parallel "$(nproc)" --target grpo4j test_cuda_vs_reference bench_cuda
}

sanitize() {
  local tool=$1
  "$sanitizer_bin" --tool "$tool" --error-exitcode 1 --print-limit 20 "$test_bin" --small
}

torch_oracle() {
  "$test_bin" --dump "$work/oracle" && python3 ci/torch_oracle.py "$work/oracle"
}

step "gpu" nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
step "configure" configure
step "build" build_targets
step "test_cuda_vs_reference" "$test_bin"
for tool in $sanitizers; do
  step "compute-sanitizer $tool" sanitize "$tool"
done
step "bench_cuda" "$bench_bin" --json "$out_dir/bench_cuda.json"
step "torch oracle" torch_oracle

echo
echo "==================== summary ===================="
grep -E '^FAIL|^[0-9]+ passed, [0-9]+ failed$' "$log" || true
sed -n '/^shape  *dtype  *variant/,/^copy bandwidth/p' "$log" || true
sed -n '/^case  *dtype  *shape/,/^torch oracle:/p' "$log" || true
echo
printf '%-32s %-10s %8s\n' "step" "result" "seconds"
for i in "${!step_names[@]}"; do
  printf '%-32s %-10s %8s\n' "${step_names[$i]}" "${step_results[$i]}" "${step_seconds[$i]}"
done
echo "log: $log"
if [ "$failed" -ne 0 ]; then
  echo "gpu-check: FAILED"
  exit 1
fi
echo "gpu-check: all steps passed"
