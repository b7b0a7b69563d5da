#!/usr/bin/env bash
# The GPU kit's round trip on a machine without a GPU (issue 26, part 1): builds the kit with the CPU natives, checks
# that a damaged or a missing part is refused by name, assembles it, and trains tiny-llama for two steps through the
# kit's own launcher with --device cpu. The GPU kit differs only in the natives it packs.
set -euo pipefail
cd "$(dirname "$0")/.."
kit=.gpu-kit
fail() { echo "ci/gpu-kit-selftest.sh: $*" >&2; exit 1; }

ci/gpu-kit.sh build cpu > "$kit.log" 2>&1 || fail "building the kit failed: $(tail -20 "$kit.log")"
rm -f "$kit.log"
parts=$(ls "$kit"/part-[0-9]* | wc -l)
(( parts >= 2 )) || fail "expected the kit in several parts, got $parts"
for part in "$kit"/part-[0-9]*; do
  (( $(stat -c %s "$part") <= 58 * 1024 * 1024 )) || fail "$part is larger than 58 MiB"
done

cp "$kit/part-01" "$kit/good-01"
printf 'X' | dd of="$kit/part-01" bs=1 seek=1000 conv=notrunc status=none
if ci/gpu-kit.sh assemble 2> "$kit/err"; then fail "a damaged part was accepted"; fi
grep -q "part-01" "$kit/err" || fail "the damaged part is not named: $(cat "$kit/err")"
mv "$kit/good-01" "$kit/part-01"

mv "$kit/part-02" "$kit/away-02"
if ci/gpu-kit.sh assemble 2> "$kit/err"; then fail "a missing part was not noticed"; fi
grep -q "missing: part-02" "$kit/err" || fail "the missing part is not named: $(cat "$kit/err")"
mv "$kit/away-02" "$kit/part-02"

ci/gpu-kit.sh assemble
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
for i in $(seq 1 16); do
  group=$(( i % 2 ))
  printf '{"prompt": "Q%d?", "chosen": " yes %d", "rejected": " no", "group": "g%d"}\n' "$i" "$i" "$group"
done > "$data/train.jsonl"
ci/gpu-kit.sh grpo4j train --device cpu --threads 2 --model tiny-llama --train "$data/train.jsonl" --method gr-dpo \
  --steps 2 --batch-size 4 --no-progress --reference-cache "$data/cache" --out "$data/run" > "$data/log" 2>&1 \
  || fail "training through the kit failed: $(cat "$data/log")"
[[ $(wc -l < "$data/run/metrics.jsonl") -eq 2 ]] || fail "expected two logged steps: $(cat "$data/log")"
echo "ci/gpu-kit-selftest.sh: $parts parts, damaged and missing parts refused, trained through the kit"
