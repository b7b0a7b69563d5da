#!/usr/bin/env bash
# Records what a restructuring of the trainer must not change (issue 23): the demo (`grpo4j demo --seed 42`), one
# 2-process GR-DPO run with an SFT stage, a validation and a test split, one single-process GR-IPO run on whole
# logits with the once-per-step group update, and a LoRA run with SFT, whole and resumed, as SHA-256 digests of
# their data, metrics.jsonl, eval.jsonl, reference log-probs, checkpoints and final weights. Every run scores its
# references afresh (a cache inside OUT). Results depend on the machine (BLAS kernels per CPU), so compare
# records made on the same machine:
#   ci/record-behaviour.sh JAR OUT         writes OUT/digests.txt (and the runs under OUT)
#   diff OUT_BEFORE/digests.txt OUT_AFTER/digests.txt
# JAR: a built grpo4j.jar (./mvnw -pl java/trainer -am package -DskipTests). About 2 minutes on 2 cores.
set -euo pipefail
jar=$(realpath "${1:?usage: ci/record-behaviour.sh JAR OUT}")
out=${2:?usage: ci/record-behaviour.sh JAR OUT}
cd "$(dirname "$0")/.."
. ci/jdk.sh
rm -rf "$out"
mkdir -p "$out"
out=$(realpath "$out")
grpo4j() { "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -jar "$jar" "$@"; }

grpo4j demo --seed 42 --steps 60 --sft-steps 20 --threads 2 --no-progress --out "$out/demo" > "$out/demo.log" 2>&1
data="$out/demo/data"
grpo4j train --nproc-per-node 2 --threads 2 --master-port $((20000 + RANDOM % 20000)) --model tiny-llama \
  --train "$data/train.jsonl" --validation "$data/validation.jsonl" --test "$data/test.jsonl" \
  --method gr-dpo --sft-steps 4 --steps 12 --batch-size 8 --grad-accumulation 2 --eval-every 6 --seed 7 \
  --reference-cache "$out/reference-cache" --no-progress --out "$out/gr-dpo-2proc" > "$out/gr-dpo-2proc.log" 2>&1
# One process, whole logits, GR-IPO with the once-per-step group update: the routes the two runs above do not take.
grpo4j train --threads 2 --model tiny-llama --fused-head off --train "$data/train.jsonl" \
  --validation "$data/validation.jsonl" --method gr-ipo --group-update per-step --steps 8 --batch-size 8 \
  --grad-accumulation 2 --eval-every 4 --seed 11 --reference-cache "$out/reference-cache" --no-progress \
  --out "$out/gr-ipo-whole-logits" > "$out/gr-ipo-whole-logits.log" 2>&1
# LoRA with dropout after an SFT stage (merged into the adapters' base), then continued for 3 steps by --resume
# from its step-3 checkpoint with the later ones removed: the adapter and resume paths.
grpo4j train --threads 2 --model tiny-llama --train "$data/train.jsonl" --validation "$data/validation.jsonl" \
  --method gr-dpo --lora-rank 4 --lora-dropout 0.1 --sft-steps 3 --steps 6 --batch-size 8 --checkpoint-every 3 \
  --keep-checkpoints 3 --seed 5 --reference-cache "$out/reference-cache" --no-progress --out "$out/lora" \
  > "$out/lora.log" 2>&1
cp -r "$out/lora" "$out/lora-resumed"
rm -rf "$out/lora-resumed/checkpoints/step-00000006" "$out/lora-resumed/final"
grpo4j train --threads 2 --resume --no-progress --out "$out/lora-resumed" > "$out/lora-resumed.log" 2>&1

cd "$out"
# The data, the logs (without their timings), reference log-probs, checkpoints and final weights.
find . \( -name '*.jsonl' -o -name '*.safetensors' \) | sort | while read -r file; do
  digest=$(sed -E 's/,"(tokens_per_second|step_seconds)":[^,}]*//g' "$file" | sha256sum | cut -d' ' -f1)
  echo "$digest  $file"
done > digests.txt
echo "ci/record-behaviour.sh: $(wc -l < digests.txt) digests in $out/digests.txt" >&2
