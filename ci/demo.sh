#!/usr/bin/env bash
# The project's main job (README.md): builds grpo4j (native library, Java modules, the runnable jar) and runs
# `grpo4j demo`, which trains plain DPO and GR-DPO on a built-in multi-group data set on the CPU and prints a
# per-group comparison. Arguments go to the demo, e.g. ci/demo.sh --seed 7 --out runs/seed7.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/jdk.sh
# Build output (CMake's, which -q does not silence) goes to stderr: stdout carries only the demo's results.
./mvnw -B -ntp -q package -DskipTests >&2
# libtorch's OpenMP threads spin-wait by default and starve small machines (SPEC §7); read once at startup.
OMP_WAIT_POLICY=PASSIVE java --enable-native-access=ALL-UNNAMED -jar java/trainer/target/grpo4j.jar demo "$@"
