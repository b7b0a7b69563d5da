#!/usr/bin/env bash
# Runs the CUDA benchmarks of the JMH suite (CudaLossBench) on a GPU machine with what ci/gpu-bench-prepare.sh put
# in bench/target/gpu/, and writes JMH's JSON to ${OUT:-bench/target}/cuda-jmh.json. Back on the build machine,
# ci/bench-report.sh turns it into the table. Extra arguments go to JMH (e.g. -p shape=8x512x32000).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-bench/target}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
OMP_WAIT_POLICY=PASSIVE bench/target/gpu/jre/bin/java --enable-native-access=ALL-UNNAMED \
  -cp 'bench/target/gpu/lib/*' org.openjdk.jmh.Main 'CudaLossBench' -f 1 -wi 1 -w 1s -i 3 -r 1s "$@" \
  -rf json -rff "$out/cuda-jmh.json"
