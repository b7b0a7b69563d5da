#!/usr/bin/env bash
# The trainer for a GPU machine that has no Java and no network and takes 64 MiB per call (issue 26): a jlink'd
# Java 25, the trainer's class path with only the natives of one flavour, packed into one tar and split into parts
# small enough to travel one per call beside the working tree; the CUDA libraries come from the machine's own
# Python wheels (nvidia-*), not from the kit.
#   here:   ci/gpu-kit.sh build [gpu|cpu]   writes .gpu-kit/part-00.., SHA256SUMS (parts and whole) and PLAN
#   there:  ci/gpu-kit.sh assemble          checks every part and the whole, unpacks into .gpu-kit/kit
#           ci/gpu-kit.sh grpo4j ARGS...     runs the grpo4j command line from the kit
#           ci/gpu-kit.sh core-tests [ARGS]  runs grpo4j-core's Java tests (CudaBackendTest and the rest) from the kit
# .gpu-kit/ is git-ignored: a device call carries the part it brings (`carry: [".gpu-kit/part-03"]`), and on a warm
# machine the parts of earlier calls are still there. `cpu` builds the same kit with the CPU natives, so that the
# round trip and the launch can be tried on a machine without a GPU (ci/gpu-kit-selftest.sh does).
# GRPO4J_KIT_PART_MIB (default 58) sets the part size.
set -euo pipefail
cd "$(dirname "$0")/.."
kit=.gpu-kit
part_mib=${GRPO4J_KIT_PART_MIB:-58}

build() {
  local flavour=${1:-gpu} profile=()
  [[ $flavour == gpu || $flavour == cpu ]] || { echo "ci/gpu-kit.sh build: gpu or cpu, not $flavour" >&2; exit 2; }
  [[ $flavour == gpu ]] && profile=(-Pgpu)
  . ci/jdk.sh
  ./mvnw -B -ntp -q -pl java/trainer -am package -DskipTests "${profile[@]}"
  rm -rf "$kit"
  local stage=$kit/stage
  mkdir -p "$stage/lib"
  ./mvnw -B -ntp -q -pl java/trainer dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$PWD/$stage/lib" "${profile[@]}"
  cp java/trainer/target/grpo4j-trainer-*-SNAPSHOT.jar "$stage/lib/" 2>/dev/null \
    || cp "$(ls java/trainer/target/grpo4j-trainer-*.jar | grep -v -e sources -e javadoc | head -1)" "$stage/lib/"
  if [[ $flavour == gpu ]]; then
    # The GPU libtorch only: its CPU twin, and oneMKL (the CPU libtorch's BLAS), would only add parts.
    rm -f "$stage"/lib/pytorch-*-linux-x86_64.jar "$stage"/lib/mkl-*.jar
  fi
  # grpo4j-core's tests, to run the CUDA ones on device memory there: their classes and JUnit's console launcher.
  ./mvnw -B -ntp -q -pl java/core test-compile
  cp -r java/core/target/test-classes "$stage/core-test-classes"
  ./mvnw -B -ntp -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.13.4 \
    -DoutputDirectory="$PWD/$stage/junit"
  # TRL and what of its needs the device image lacks, for bench/trl-side-by-side/gpu_step.py (issue 26, step 4).
  mkdir -p "$stage/wheels"
  local index
  index=$(pip3 config list 2>/dev/null | sed -n "s/^global.extra-index-url='\([^ ']*\).*/\1/p" || true)
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 ${index:+--index-url "$index"} \
    -d "$stage/wheels" trl==1.13.0 datasets==5.0.1 dill==0.4.1 multiprocess==0.70.19 \
    || echo "ci/gpu-kit.sh: no TRL wheels (pip could not fetch them): the kit cannot run the step against TRL" >&2
  "$JAVA_HOME/bin/jlink" --add-modules java.base,java.desktop,java.logging,java.management,java.naming,java.sql,java.xml,jdk.unsupported,jdk.zipfs \
    --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output "$stage/jre"
  echo "$flavour" > "$stage/FLAVOUR"
  (cd "$stage" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$kit/CONTENTS.sha256"
  mv "$kit/CONTENTS.sha256" "$stage/CONTENTS.sha256"
  tar -cf - -C "$stage" . | split -b "${part_mib}m" -d -a 2 - "$kit/part-"
  rm -rf "$stage"
  (cd "$kit" && sha256sum part-* > SHA256SUMS && cat part-* | sha256sum | sed 's/-$/whole/' >> SHA256SUMS)
  local parts last tree_mib
  parts=$(ls "$kit"/part-* | wc -l)
  last=$(printf 'part-%02d' $((parts - 1)))
  tree_mib=$(git ls-files -z | xargs -0 stat -c %s | awk '{s += $1} END {printf "%.1f", s / 1048576}')
  {
    echo "grpo4j kit ($flavour): $parts parts of at most $part_mib MiB, $(du -ch "$kit"/part-* | tail -1 | cut -f1) in all;"
    echo "the working tree adds $tree_mib MiB to each call (64 MiB in all: lower GRPO4J_KIT_PART_MIB if it grows)."
    echo
    echo "Device calls, back to back on one machine (it stays warm 30 s after a call: a later call starts a bare one"
    echo "and the parts are gone). Each carries [\".gpu-kit/SHA256SUMS\", \".gpu-kit/part-NN\"] and runs:"
    echo "  part-00: OUT=\$OUT ci/gpu-check.sh; ls .gpu-kit    (CUDA suite, 4 sanitizers, timings: needs no kit)"
    for ((k = 1; k < parts - 1; k++)); do
      printf '  part-%02d: ls .gpu-kit\n' "$k"
    done
    echo "  $last: ci/gpu-kit.sh assemble && ci/gpu-kit.sh core-tests; OUT=\$OUT ci/gpu-train-check.sh"
    echo "Device time, estimated (not yet measured): start 1-2 min; part-00 with ci/gpu-check.sh 4-5 min; each part"
    echo "alone about 0.5 min; the last call about 3 min: some 12-14 of the session's 15 minutes."
    echo "Then, if time is left (no part to carry): the Qwen2.5-0.5B-shaped step against TRL (issue 26, step 4):"
    echo "  python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu-kit/kit/wheels/*.whl &&"
    echo "    PYTHONPATH=/tmp/site python3 bench/trl-side-by-side/gpu_step.py \$OUT/step 8"
  } > "$kit/PLAN"
  cat "$kit/PLAN"
}

assemble() {
  [[ -f $kit/SHA256SUMS ]] || { echo "ci/gpu-kit.sh assemble: no $kit/SHA256SUMS: carry it with a part" >&2; exit 1; }
  local parts=() missing=() part
  mapfile -t parts < <(grep -o ' part-[0-9]*$' "$kit/SHA256SUMS" | tr -d ' ')
  for part in "${parts[@]}"; do
    [[ -f $kit/$part ]] || missing+=("$part")
  done
  if (( ${#missing[@]} > 0 )); then
    echo "ci/gpu-kit.sh assemble: $(( ${#parts[@]} - ${#missing[@]} )) of ${#parts[@]} parts in $kit; missing: ${missing[*]}" >&2
    exit 1
  fi
  (cd "$kit" && grep ' part-' SHA256SUMS | sha256sum --quiet -c - >&2) || {
    echo "ci/gpu-kit.sh assemble: a part is damaged (named above): bring it again" >&2; exit 1; }
  local whole
  whole=$(cd "$kit" && cat "${parts[@]}" | sha256sum | cut -d' ' -f1)
  grep -q "^$whole  whole$" "$kit/SHA256SUMS" || { echo "ci/gpu-kit.sh assemble: the parts do not make the kit" >&2; exit 1; }
  rm -rf "$kit/kit"
  mkdir -p "$kit/kit"
  (cd "$kit" && cat "${parts[@]}") | tar -xf - -C "$kit/kit"
  (cd "$kit/kit" && sha256sum --quiet -c CONTENTS.sha256) || { echo "ci/gpu-kit.sh assemble: unpacked files differ" >&2; exit 1; }
  echo "ci/gpu-kit.sh: $kit/kit ($(cat "$kit/kit/FLAVOUR")) assembled and checked"
}

# The folders of the CUDA libraries the GPU libtorch needs (CUDA 13 runtime, cuBLAS, cuDNN 9, NCCL, ...) in the
# nvidia-* wheels of the machine's Python, if it has them. LibTorch.load() finds the libraries libtorch links against
# there itself (CudaWheels); the loader's path is for those opened later by name (NVRTC, cuDNN's engine libraries).
cuda_library_path() {
  local python
  for python in python3 /opt/torch/.venv/bin/python3 /usr/bin/python3; do
    command -v "$python" >/dev/null 2>&1 || continue
    "$python" - <<'PY' 2>/dev/null && return
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()] + sys.path
folders = sorted({d for r in roots if r and os.path.isdir(os.path.join(r, "nvidia"))
                  for d in glob.glob(os.path.join(r, "nvidia", "*", "lib")) + glob.glob(os.path.join(r, "nvidia", "cu*", "lib"))})
print(":".join(folders))
PY
  done
}

run_grpo4j() {
  [[ -x $kit/kit/jre/bin/java ]] || { echo "ci/gpu-kit.sh grpo4j: no kit in $kit/kit: ci/gpu-kit.sh assemble first" >&2; exit 1; }
  local cuda
  cuda=$(cuda_library_path || true)
  export LD_LIBRARY_PATH=${cuda}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  exec "$kit/kit/jre/bin/java" --enable-native-access=ALL-UNNAMED -Dorg.bytedeco.javacpp.cachedir="$PWD/$kit/cache" \
    -cp "$kit/kit/lib/*" dev.grpo4j.cli.Main "$@"
}

core_tests() {
  [[ -x $kit/kit/jre/bin/java ]] || { echo "ci/gpu-kit.sh core-tests: no kit in $kit/kit: ci/gpu-kit.sh assemble first" >&2; exit 1; }
  local core
  core=$(ls "$kit"/kit/lib/grpo4j-core-*.jar | grep -v tests | head -1)
  OMP_WAIT_POLICY=PASSIVE "$kit/kit/jre/bin/java" --enable-native-access=ALL-UNNAMED \
    -jar "$kit"/kit/junit/junit-platform-console-standalone-*.jar execute \
    --class-path "$core:$kit/kit/core-test-classes" --select-package dev.grpo4j \
    --details=summary --details-theme=ascii --disable-banner "$@"
}

case "${1:-}" in
  build) shift; build "$@" ;;
  core-tests) shift; core_tests "$@" ;;
  assemble) assemble ;;
  grpo4j) shift; run_grpo4j "$@" ;;
  *) sed -n '2,13p' "$0" >&2; exit 2 ;;
esac
