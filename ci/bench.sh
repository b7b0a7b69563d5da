#!/usr/bin/env bash
# The JMH benchmark suite (bench/): the fused loss on the CPU against libtorch's unfused ops, the plain Java
# reference and the machine's copy bandwidth; FFM call overhead; a tiny-model training step; CUDA variants where a
# GPU is present. Builds bench/target/benchmarks.jar, runs it with OMP_WAIT_POLICY=PASSIVE exported (JMH forks
# inherit this environment; libtorch's spinning OpenMP threads would otherwise starve a 2-core machine), writes
# bench/results/<date>-<machine>[-quick].json and prints the table last, ending with the line
# "fused/libtorch speedup at 8x512x32000 fp32: <ratio>".
#
#   ci/bench.sh            the whole suite (all shapes, fp32 and bf16; long: see bench/README.md)
#   ci/bench.sh --quick    the main shapes (16x64x256 and 8x512x32000, fp32) in under 3 minutes of benchmarking
#   ci/bench.sh --head     the fused LM head at Qwen2.5-0.5B's head (8 pairs x 512 tokens, V = 151936) against
#                          libtorch, and a Qwen2.5-0.5B-shaped training step with and without it (about 20 minutes)
#   ci/bench.sh [--quick] -- <JMH options>   extra options for JMH, e.g. -- -f 2
#
# Environment: GRPO4J_BENCH_MACHINE names the machine in the results file (default: CPU model and count);
# GRPO4J_BENCH_WAIT_LOAD=0.5 waits (after the build, up to 15 minutes) until the 1-minute load average is below
# that value before benchmarking, for measurements on a machine other work shares.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/jdk.sh

quick=0
head=0
jmh_extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --head) head=1 ;;
    --) shift; jmh_extra=("$@"); break ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "ci/bench.sh: unknown option $1 (use --quick, --head, or -- <JMH options>)" >&2; exit 2 ;;
  esac
  shift
done
for tool in cmake g++; do
  command -v "$tool" >/dev/null || { echo "ci/bench.sh: $tool is required (apt-get install cmake g++)" >&2; exit 1; }
done

echo "ci/bench.sh: building bench/target/benchmarks.jar" >&2
./mvnw -B -ntp -q -Pbench-jar -pl bench -am -DskipTests package
jar=bench/target/benchmarks.jar

export OMP_WAIT_POLICY=PASSIVE
work=bench/target/run
rm -rf "$work" && mkdir -p "$work"
export GRPO4J_BENCH_SIDECAR="$PWD/$work/memory.jsonl"

# JMH invocations (each entry: its selection and options); their JSON results are reported together.
if [ "$head" = 1 ]; then
  runs=("FusedHeadBench\. QwenTrainingStepBench\. -f 1")
elif [ "$quick" = 1 ]; then
  # Main shapes, fp32, one fork per variant. Kernels, copies, the Java reference and the training step: 1 s warm-up
  # + 3 x 1 s. libtorch (1.5-3 s a call at 8x512x32000, page faults make it noisy) and the FFM calls (nanoseconds,
  # taken as a difference of two forks): 1 + 5 iterations, for a steadier median.
  runs=(
    "FusedCpuBench\.(forwardBackward|forwardBackwardInPlace|forward)\$ CopyBench\. JavaReferenceBench\. TrainingStepBench\. -p shape=16x64x256,8x512x32000 -p dtype=f32 -f 1 -wi 1 -w 1s -i 3 -r 1s"
    "LibtorchBench\.forwardBackward\$ FfmOverheadBench\.(emptyDowncall|rawKernel|groupRobustLoss)\$ -p shape=16x64x256,8x512x32000 -p dtype=f32 -f 1 -wi 1 -w 1s -i 5 -r 1s"
  )
else
  runs=("")
fi
# Excluded benchmarks, one JMH -e with comma-separated patterns: the fused-head ones (--head, long) and CUDA's
# without a GPU.
excluded=()
if [ "$head" = 0 ]; then
  excluded+=('FusedHeadBench' 'QwenTrainingStepBench')
fi
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  echo "ci/bench.sh: GPU present: CUDA variants included" >&2
else
  excluded+=('CudaLossBench')
fi
exclude=()
if [ "${#excluded[@]}" -gt 0 ]; then
  exclude=(-e "$(IFS=,; echo "${excluded[*]}")")
fi

machine="${GRPO4J_BENCH_MACHINE:-$( (grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //' || uname -m) \
  | tr 'A-Z' 'a-z' | sed 's/([^)]*)//g; s/[^a-z0-9]\+/-/g; s/^-//; s/-$//' | cut -c1-40)-$(nproc)cpu}"
date=$(date -u +%Y-%m-%d)
suffix=$([ "$quick" = 1 ] && echo "-quick" || true)$([ "$head" = 1 ] && echo "-head" || true)
out="bench/results/${date}-${machine}${suffix}.json"
if [ -n "${GRPO4J_BENCH_WAIT_LOAD:-}" ]; then
  for _ in $(seq 180); do
    awk -v max="$GRPO4J_BENCH_WAIT_LOAD" '{ exit !($1 < max) }' /proc/loadavg && break
    sleep 5
  done
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "ci/bench.sh: load average before: $load_before" >&2

results=()
started=$(date +%s)
for i in "${!runs[@]}"; do
  read -r -a selection <<<"${runs[$i]}"
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -jar "$jar" "${selection[@]}" "${exclude[@]}" \
    "${jmh_extra[@]}" -rf json -rff "$work/jmh-$i.json" 2>&1 | tee -a "$work/jmh.log"
  results+=("$work/jmh-$i.json")
done

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(( $(date +%s) - started ))
command="ci/bench.sh$([ "$quick" = 1 ] && echo ' --quick' || true)$([ "$head" = 1 ] && echo ' --head' || true)"
[ -n "${GRPO4J_BENCH_WAIT_LOAD:-}" ] && command="GRPO4J_BENCH_WAIT_LOAD=$GRPO4J_BENCH_WAIT_LOAD $command"
"$JAVA_HOME/bin/java" -cp "$jar" dev.grpo4j.bench.Report --jmh "$(IFS=,; echo "${results[*]}")" --sidecar "$GRPO4J_BENCH_SIDECAR" \
  --out "$out" --machine "$machine" --date "$date" --command "$command" \
  --load-before "$load_before" --load-after "$load_after" --elapsed "$elapsed"

