#!/usr/bin/env bash
# The project's test command (README.md): builds the native library and the Java modules, runs the native
# ctest suite and every Java test through Maven, then the native suite again under AddressSanitizer + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/jdk.sh
for tool in cmake g++; do
  command -v "$tool" >/dev/null || { echo "ci/test.sh: $tool is required (apt-get install cmake g++)" >&2; exit 1; }
done
./mvnw -B -ntp verify
# The GPU build's profile (-Pgpu) downloads gigabytes, so CI only checks that it parses; its code is compiled above.
./mvnw -B -ntp -q -Pgpu validate
ci/native-sanitize.sh
