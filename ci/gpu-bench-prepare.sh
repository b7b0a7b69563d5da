#!/usr/bin/env bash
# Prepares bench/target/gpu/ (git-ignored, ~55 MB) for ci/gpu-bench.sh on a GPU machine that has no Java, no Maven
# and no network: a jlink'd Java 25 runtime, the suite's jar and the few jars CudaLossBench needs (the core, JMH);
# the trainer's and libtorch's would take the folder over the device tool's 64 MiB. The native library is the one
# in the grpo4j-core jar, built here with its CUDA backend when nvcc is installed. Carry bench/target/gpu with the run.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/jdk.sh
./mvnw -B -ntp -q -pl bench -am -DskipTests package
rm -rf bench/target/gpu && mkdir -p bench/target/gpu/lib
./mvnw -B -ntp -q -pl bench dependency:copy-dependencies -DincludeScope=runtime \
  -DincludeArtifactIds=grpo4j-core,jmh-core,jopt-simple,commons-math3 -DoutputDirectory=target/gpu/lib
cp bench/target/grpo4j-bench-*.jar bench/target/gpu/lib/
"$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,java.management,jdk.management,jdk.unsupported,java.xml,jdk.zipfs \
  --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output bench/target/gpu/jre
du -sh bench/target/gpu
