#!/usr/bin/env bash
# The compute-cell modules built for a newer CPU than the baseline (ROMAKernelsAVX512, and
# ROMAKernelsAVX2 when ROMA_BASELINE=x86-64) must not define
# weak (linkonce) code symbols outside their own namespace: the linker keeps one copy of each, and if
# it kept the AVX-512 copy of, say, a standard-library specialization that baseline modules also use,
# an AVX2-only CPU would run AVX-512 instructions. Checks the objects of a build; prints the offenders.
#   scripts/check-kernel-symbols.sh [BUILD_DIR]   (default .build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-.build/release}
status=0
# ROMAKernelsAVX2 is compiled for Haswell like every module of the default build; it needs the check
# only when the baseline is lowered (ROMA_BASELINE=x86-64)
modules=(ROMAKernelsAVX512)
[ "${ROMA_BASELINE:-}" = "x86-64" ] && modules+=(ROMAKernelsAVX2)
for module in "${modules[@]}"; do
  DIR=$BUILD/$module.build
  ls "$DIR"/*.o >/dev/null 2>&1 || { echo "check-kernel-symbols: no objects in $DIR (build first)" >&2; exit 1; }
  prefix="\$s${#module}$module"
  bad=$(for o in "$DIR"/*.o; do nm "$o"; done | awk '$2 == "W" || $2 == "w" { print $3 }' | grep -v "^$prefix" || true)
  if [ -n "$bad" ]; then
    echo "check-kernel-symbols: $module defines weak code symbols outside its namespace (shared with baseline modules at link time):" >&2
    echo "$bad" >&2
    status=1
  else
    echo "check-kernel-symbols: $module defines no shared weak code symbols"
  fi
done
exit $status
