#!/usr/bin/env bash
# grpo4j train against TRL's DPOTrainer, side by side on this machine (issue 22; see compare.py for what is run and
# measured). Makes a Python venv from the package mirror on first use (torch CPU, transformers, TRL, datasets) in
# $GRPO4J_BENCH_VENV (default ~/.cache/grpo4j/trl-venv). Needs java/trainer/target/grpo4j.jar
# (./mvnw -pl java/trainer -am package -DskipTests). Not part of the tests; a full run takes about an hour.
#   bench/trl-side-by-side/run.sh [VOCABS [ROUNDS [STEPS [CONDITIONS]]]]
#   default: 4000,32000,151936 2 10 quiet,busy; 8 pairs (16 sequences) a step, 2 threads per run
set -euo pipefail
cd "$(dirname "$0")/../.."
. ci/jdk.sh
venv=${GRPO4J_BENCH_VENV:-$HOME/.cache/grpo4j/trl-venv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import trl, transformers, torch, datasets" 2>/dev/null; then
  python3 -m venv "$venv"
  # The mirror's own index (pip's config names it) and its wheel folder; the default index is unreachable here.
  index=$(pip3 config list 2>/dev/null | sed -n "s/^global.extra-index-url='\([^ ']*\).*/\1/p")
  "$venv/bin/pip" install -q ${index:+--index-url "$index"} torch transformers trl datasets accelerate
fi
work=${GRPO4J_BENCH_WORK:-$(mktemp -d)}
[ -n "${GRPO4J_BENCH_WORK:-}" ] || trap 'rm -rf "$work"' EXIT
"$venv/bin/python" -u bench/trl-side-by-side/compare.py java/trainer/target/grpo4j.jar "$work" \
  "${1:-4000,32000,151936}" "${2:-2}" "${3:-10}" 8 2 "${4:-quiet,busy}"
