#!/usr/bin/env bash
# Data-parallel training on one machine: tokens/s of 1 process (1 thread) against 2 processes (1 thread each) for
# the same global batch, on the built-in tiny model and on a larger random Llama (width 256, 4 layers), in turns
# (1 2 1 2 ...), and the time per step each rank spends in the gradient all-reduce and the group-statistics
# all-gathers. Needs java/trainer/target/grpo4j.jar (./mvnw -pl java/trainer -am package -DskipTests).
#   bench/data-parallel/run.sh [ROUNDS [MODELS]]   # default: 3 rounds, "tiny llama-256x4"
set -euo pipefail
cd "$(dirname "$0")/../.."
. ci/jdk.sh
rounds=${1:-3}
models=${2:-"tiny llama-256x4"}
jar=java/trainer/target/grpo4j.jar
java=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 bench/data-parallel/make_pairs.py "$work/train.jsonl"
"${java[@]}" -cp "$jar" bench/data-parallel/MakeModel.java "$work/llama-256x4" 256 4

steps=30
run() {  # model processes tag
  local out="$work/run-$3"
  rm -rf "$out"
  local args=(train --model "$1" --train "$work/train.jsonl" --method gr-dpo --steps $steps --batch-size 16
    --lr 1e-4 --no-progress --reference-cache "$work/cache" --out "$out")
  if [ "$2" = 1 ]; then
    "${java[@]}" -jar "$jar" "${args[@]}" --threads 1 >"$out.log" 2>&1
  else
    "${java[@]}" -jar "$jar" "${args[@]}" --threads 2 --nproc-per-node 2 \
      --master-port $((29600 + RANDOM % 1000)) >"$out.log" 2>&1
  fi
  # Median tokens/s over steps 6.. (the first steps warm libtorch's caches); the collectives line if any.
  python3 - "$out/metrics.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("%.0f" % statistics.median(r["tokens_per_second"] for r in rows if r["step"] > 5))
PY
  grep -o "per step .*" "$out.log" || true
}

for name in $models; do
  model=$([ "$name" = tiny ] && echo tiny-llama || echo "$work/$name")
  run "$model" 1 warm >/dev/null   # scores and caches the reference log-probs once
  one=() two=()
  for r in $(seq "$rounds"); do
    one+=("$(run "$model" 1 one | head -1)")
    result=$(run "$model" 2 two)
    two+=("$(echo "$result" | head -1)")
    collectives=$(echo "$result" | tail -1)
  done
  python3 - "$name" "${one[*]}" "${two[*]}" "$collectives" <<'PY'
import statistics, sys
name, one, two, coll = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()], sys.argv[4]
a, b = statistics.median(one), statistics.median(two)
print(f"{name}: 1 process {a:.0f} tok/s {one}, 2 processes {b:.0f} tok/s {two}: x{b / a:.2f} "
      f"(efficiency {b / a / 2:.0%}); 2 processes: {coll}")
PY
done
