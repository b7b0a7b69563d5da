#!/usr/bin/env bash
# Where a training step's time goes (issue 22): trains a random byte-level Llama with a head of VOCAB rows under
# Java Flight Recorder and attributes the main thread's samples of the training steps to the parts of the step
# (body forward and backward, the fused head's products, the loss kernels, the optimizer). Needs
# java/trainer/target/grpo4j.jar (./mvnw -pl java/trainer -am package -DskipTests).
#   bench/step-breakdown/run.sh HIDDEN LAYERS VOCAB PAIRS STEPS
#   e.g. 512 2 32000 16 10 (the issue's V 32k model) or 896 2 151936 4 4 (Qwen2.5-0.5B's head; slow: the reference
#   scoring of 800 pairs through that head takes minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."
. ci/jdk.sh
hidden=${1:-512} layers=${2:-2} vocab=${3:-32000} pairs=${4:-16} steps=${5:-10}
jar=java/trainer/target/grpo4j.jar
java=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/data-parallel/make_pairs.py "$work/train.jsonl"
"${java[@]}" -cp "$jar" bench/data-parallel/MakeModel.java "$work/model" "$hidden" "$layers" "$vocab"
"${java[@]}" -XX:StartFlightRecording=filename="$work/step.jfr",settings=profile -jar "$jar" train \
  --model "$work/model" --train "$work/train.jsonl" --method gr-dpo --steps "$steps" --batch-size "$pairs" \
  --lr 1e-4 --no-progress --reference-cache "$work/cache" --out "$work/run" >"$work/train.log" 2>&1
python3 - "$work/run/metrics.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("tokens/s per step:", [round(r["tokens_per_second"]) for r in rows],
      "median", round(statistics.median(r["tokens_per_second"] for r in rows)))
PY
"$JAVA_HOME/bin/jfr" print --json --stack-depth 128 --events jdk.NativeMethodSample,jdk.ExecutionSample \
  "$work/step.jfr" >"$work/samples.json"
python3 bench/step-breakdown/attribute.py "$work/samples.json"
