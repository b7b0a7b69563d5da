#!/usr/bin/env bash
# The project's test command (README.md): builds the native library and the Java modules, runs the native
# ctest suite and every Java test through Maven, then the native suite again under AddressSanitizer + UBSan, then
# the GPU kit's round trip on the CPU (ci/gpu-kit-selftest.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/jdk.sh
for tool in cmake g++; do
  command -v "$tool" >/dev/null || { echo "ci/test.sh: $tool is required (apt-get install cmake g++)" >&2; exit 1; }
done
./mvnw -B -ntp verify
# The runnable jar carries the natives LibTorch.load() opens, MKL's included: loaded from an empty cache, it names
# MKL as its BLAS (the tests above run on the class path, not on the jar).
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
version=$("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Dorg.bytedeco.javacpp.cachedir="$cache" \
  -jar java/trainer/target/grpo4j.jar --version)
grep -q "^BLAS Intel(R) oneAPI Math Kernel Library" <<<"$version" || {
  echo "ci/test.sh: grpo4j.jar --version does not name MKL as its BLAS:" >&2; echo "$version" >&2; exit 1; }
# The GPU build's profile (-Pgpu) downloads gigabytes, so CI only checks that it parses; its code is compiled above.
./mvnw -B -ntp -q -Pgpu validate
ci/native-sanitize.sh
# The GPU kit (what a GPU session carries to the device machine) round-trips and trains through its own launcher.
ci/gpu-kit-selftest.sh
