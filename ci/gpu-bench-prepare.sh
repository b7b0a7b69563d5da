#!/usr/bin/env bash
# Prepares bench/target/gpu/ (git-ignored, ~55 MB) for ci/gpu-bench.sh on a GPU machine that has no Java, no Maven
# and no network: a jlink'd Java 25 runtime and the JMH suite's jars without libtorch (the CUDA benchmarks never
# touch it). The native library is the one in the grpo4j-core jar, built here with its CUDA backend when nvcc is
# installed. Carry bench/target/gpu with the run.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/jdk.sh
./mvnw -B -ntp -q -pl bench -am -DskipTests package
rm -rf bench/target/gpu && mkdir -p bench/target/gpu/lib
./mvnw -B -ntp -q -pl bench dependency:copy-dependencies -DincludeScope=runtime -DexcludeGroupIds=org.bytedeco \
  -DoutputDirectory=target/gpu/lib
cp bench/target/grpo4j-bench-*.jar bench/target/gpu/lib/
"$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,java.management,jdk.management,jdk.unsupported,java.xml,jdk.zipfs \
  --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output bench/target/gpu/jre
du -sh bench/target/gpu
