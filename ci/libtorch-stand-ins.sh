#!/usr/bin/env bash
# Builds stand-ins with the file names and sonames of libtorch's libraries (and the OpenMP and BLAS libraries it
# loads) into DIR. Each one, if ever loaded, prints a line and ends the process with exit status 97. The trainer's
# and the benchmarks' test JVMs run with DIR on LD_LIBRARY_PATH, which the dynamic loader searches before a
# library's own folder: any libtorch dependency resolved by name instead of found already loaded picks a stand-in,
# exactly as it would pick Debian's libtorch 1.13 or a Python PyTorch's, and the test run fails at once.
set -euo pipefail
out=${1:?usage: ci/libtorch-stand-ins.sh DIR}
mkdir -p "$out"
source="$out/stand-in.c"
cat > "$source" <<'C'
#include <unistd.h>
__attribute__((constructor)) static void refuse(void) {
  static const char message[] = "grpo4j test: a stand-in library was loaded (a second libtorch got into the process)\n";
  write(2, message, sizeof message - 1);
  _exit(97);
}
C
# MKL's too: its core opens its per-CPU kernels by name, and an MKL installed on the machine must not be found.
for name in libc10.so libtorch_cpu.so libtorch.so libgomp.so.1 libopenblas.so.0 libgfortran.so.5 \
    libmkl_core.so.2 libmkl_gnu_thread.so.2 libmkl_intel_lp64.so.2 libmkl_def.so.2 libmkl_mc3.so.2 libmkl_avx2.so.2 \
    libmkl_avx512.so.2 libmkl_vml_def.so.2 libmkl_vml_mc3.so.2 libmkl_vml_avx2.so.2 libmkl_vml_avx512.so.2 \
    libmkl_vml_cmpt.so.2 libmkl_rt.so.2 libiomp5.so; do
  cc -shared -fPIC -Wl,-soname,"$name" -o "$out/$name" "$source"
done
