#!/usr/bin/env bash
# Prepares .gpu/ (git-ignored) for ci/gpu-java-check.sh on a GPU machine that has no Java and no network:
# a jlink'd Java 25 runtime, the JUnit console launcher, the grpo4j-core jar (its native library built here,
# with CUDA code when nvcc is installed) and the core test classes. Carry .gpu with the run.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/jdk.sh
junit_version=1.13.4
./mvnw -B -ntp -q -pl java/core package -DskipTests
./mvnw -B -ntp -q -pl java/core test-compile
./mvnw -B -ntp -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:$junit_version \
  -DoutputDirectory=.gpu
rm -rf .gpu/jre .gpu/core.jar .gpu/test-classes
"$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,java.management,jdk.unsupported,java.xml,jdk.zipfs \
  --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output .gpu/jre
# The main jar only: the build also writes -sources and -javadoc jars beside it.
core_jar=$(ls java/core/target/grpo4j-core-*.jar | grep -v -e '-sources\.jar$' -e '-javadoc\.jar$')
cp "$core_jar" .gpu/core.jar
cp -r java/core/target/test-classes .gpu/test-classes
du -sh .gpu
