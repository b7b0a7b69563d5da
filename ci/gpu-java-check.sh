#!/usr/bin/env bash
# Runs the grpo4j-core Java tests (CUDA ones included) on a GPU machine through the FFM API on device memory,
# with what ci/gpu-java-prepare.sh put in .gpu/. The native library is the one packed in the core jar.
set -euo pipefail
cd "$(dirname "$0")/.."
OMP_WAIT_POLICY=PASSIVE .gpu/jre/bin/java --enable-native-access=ALL-UNNAMED \
  -jar .gpu/junit-platform-console-standalone-*.jar execute \
  --class-path .gpu/core.jar:.gpu/test-classes --select-package dev.grpo4j \
  --details=summary --details-theme=ascii --disable-banner "$@"
