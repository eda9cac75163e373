#!/usr/bin/env bash
# Prints the swift build flags that compile the hot kernels for this host's CPU.
# The default x86-64 target lacks FMA/F16C/AVX2, which makes the kernels 3-10x slower.
if [ "$(uname -m)" = "x86_64" ]; then
  flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
  if [[ "$flags" == *avx512vnni* ]]; then cpu=znver4
  elif [[ "$flags" == *avx2* && "$flags" == *fma* && "$flags" == *f16c* ]]; then cpu=haswell
  else cpu=""; fi
  # ROMA_AVX2 builds the AVX2 L-Unit kernels (Sources/ROMAChip/Kernels/LUnitKernelsAVX2.swift)
  [ -n "$cpu" ] && echo "-Xswiftc -target-cpu -Xswiftc $cpu -Xswiftc -DROMA_AVX2"
fi
exit 0
