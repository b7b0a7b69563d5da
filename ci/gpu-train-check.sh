#!/usr/bin/env bash
# The trainer on the GPU (issue 26, step 3), from the kit that ci/gpu-kit.sh assembled on the device machine:
#   1. tiny-llama, float32, whole logits: `train --device cuda` against the CPU run of the same seed, step by step;
#   2. the fused LM head against the whole logits, both on CUDA;
#   3. bfloat16 on CUDA against the float32 CPU run (within bf16 noise);
#   4. a random Llama of width 256 and 4 layers (V 32000, made by the machine's transformers), bf16 on CUDA against
#      float32 on the CPU;
# with the peak GPU memory of each run (nvidia-smi, sampled every 100 ms). Logs, metrics and summary.txt go to
# ${OUT:-/tmp/gpu-train-check}. GRPO4J_CHECK_DEVICE=cpu runs the same script with the CUDA runs on the CPU: how it is
# tried on a machine without a GPU (PYTHON names a python with transformers there). Exit status 0 only when every
# comparison held.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-train-check}
device=${GRPO4J_CHECK_DEVICE:-cuda}
steps=${GRPO4J_CHECK_STEPS:-20}
mkdir -p "$out"
grpo4j() { ci/gpu-kit.sh grpo4j "$@"; }

# The demo's data (four labeller groups), written by a one-step demo on the CPU.
grpo4j demo --steps 1 --sft-steps 0 --threads 4 --no-progress --out "$out/demo" > "$out/demo.log" 2>&1 \
  || { echo "demo data failed: $(tail -5 "$out/demo.log")"; exit 1; }
data=$out/demo/data

run() {
  local name=$1 model=tiny-llama
  shift
  if [[ $1 == --model ]]; then
    model=$2
    shift 2
  fi
  local sampler=""
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$out/$name.memory" 2>/dev/null &
    sampler=$!
  fi
  local start=$SECONDS
  grpo4j train --model "$model" --train "$data/train.jsonl" --validation "$data/validation.jsonl" --method gr-dpo \
    --steps "$steps" --batch-size 16 --grad-accumulation 2 --lr 1e-3 --eval-every 10 --seed 3 --threads 4 \
    --reference-cache "$out/cache-$name" --no-progress --out "$out/$name" "$@" > "$out/$name.log" 2>&1
  local status=$?
  [[ -n $sampler ]] && kill "$sampler" 2>/dev/null
  local peak="-"
  [[ -s $out/$name.memory ]] && peak="$(sort -n "$out/$name.memory" | tail -1) MiB"
  echo "$name: exit $status, $((SECONDS - start)) s, peak GPU memory $peak" | tee -a "$out/summary.txt"
  return $status
}

compare() {
  python3 - "$out/$1/metrics.jsonl" "$out/$2/metrics.jsonl" "$3" "$1 vs $2" <<'PY' | tee -a "$out/summary.txt"
import json, sys
a, b, tol, name = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
A = [json.loads(l) for l in open(a)]
B = [json.loads(l) for l in open(b)]
worst = max(abs(x["loss"] - y["loss"]) / max(1e-6, abs(y["loss"])) for x, y in zip(A, B))
ok = len(A) == len(B) and worst <= tol
print(f"{name}: {len(A)} / {len(B)} steps, largest relative loss difference {worst:.3g} (limit {tol}): "
      + ("ok" if ok else "FAILED"))
sys.exit(0 if ok else 1)
PY
}

: > "$out/summary.txt"
failed=0
run cpu-f32 --device cpu --dtype float32 --fused-head off || failed=1
run "on-$device-f32" --device "$device" --dtype float32 --fused-head off || failed=1
run "on-$device-f32-fused" --device "$device" --dtype float32 --fused-head on || failed=1
run "on-$device-bf16" --device "$device" --dtype bfloat16 --fused-head off || failed=1
compare "on-$device-f32" cpu-f32 1e-3 || failed=1
compare "on-$device-f32-fused" "on-$device-f32" 1e-3 || failed=1
compare "on-$device-bf16" cpu-f32 5e-2 || failed=1
# The Llama 256x4 (random weights, V 32000, the byte-level tokenizer of bench/trl-side-by-side).
llama=$out/llama-256x4
if [[ ! -d $llama ]] && ! "${PYTHON:-python3}" - "$llama" > "$out/llama-256x4.make.log" 2>&1 <<'PY'
import sys
sys.path.insert(0, "bench/trl-side-by-side")
import torch
from compare import make_tokenizer
from transformers import LlamaConfig, LlamaForCausalLM
torch.manual_seed(1)
config = LlamaConfig(hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4,
                     num_key_value_heads=2, vocab_size=32000, max_position_embeddings=2048, eos_token_id=256,
                     bos_token_id=256, pad_token_id=256)
LlamaForCausalLM(config).save_pretrained(sys.argv[1])
make_tokenizer(sys.argv[1])
PY
then
  echo "llama-256x4: could not make the model: $(tail -3 "$out/llama-256x4.make.log")" | tee -a "$out/summary.txt"
  failed=1
else
  run cpu-llama-f32 --model "$llama" --device cpu --dtype float32 || failed=1
  run "on-$device-llama-bf16" --model "$llama" --device "$device" --dtype bfloat16 || failed=1
  compare "on-$device-llama-bf16" cpu-llama-f32 5e-2 || failed=1
fi
echo "gpu-train-check: $([[ $failed == 0 ]] && echo all held || echo FAILED), details in $out" | tee -a "$out/summary.txt"
exit $failed
