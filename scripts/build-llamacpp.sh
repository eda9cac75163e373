#!/usr/bin/env bash
# Builds one llama.cpp tool (llama-server, llama-perplexity, ...) into .build-llamacpp/build/bin from the
# llama.cpp vendored in the PyPI sdist llama-cpp-python==0.3.36. Idempotent; prints the binary's path.
#   scripts/build-llamacpp.sh TARGET
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${1:?usage: scripts/build-llamacpp.sh TARGET}
WORK=.build-llamacpp
BIN="$WORK/build/bin/$TARGET"
if [ ! -x "$BIN" ] || ! grep -q -- "-mno-amx-tile" "$WORK/build/CMakeCache.txt" 2>/dev/null; then
  if ! command -v cmake >/dev/null; then
    python3 -m pip install --quiet --only-binary :all: cmake 2>/dev/null || (apt-get update -qq && apt-get install -y -qq cmake)
  fi
  if [ ! -d "$WORK/src" ]; then
    mkdir -p "$WORK"
    python3 -m venv "$WORK/venv"
    "$WORK/venv/bin/pip" install --quiet --only-binary :all: scikit-build-core
    "$WORK/venv/bin/pip" download --quiet --no-deps --no-binary :all: --no-build-isolation "llama-cpp-python==0.3.36" -d "$WORK/sdist"
    mkdir -p "$WORK/src"
    tar -xzf "$WORK"/sdist/llama_cpp_python-0.3.36.tar.gz -C "$WORK/src" --strip-components=1
  fi
  # Native code for this CPU, but without AMX: a VM can report amx_tile in /proc/cpuinfo and still
  # refuse the tile state (ldtilecfg raises SIGILL), and no AMX path is needed to compare with the
  # AVX2 / AVX-512 kernels. A build configured before this rule is reconfigured.
  NOAMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  if ! grep -q -- "-mno-amx-tile" "$WORK/build/CMakeCache.txt" 2>/dev/null; then
    rm -rf "$WORK/build"
    cmake -S "$WORK/src/vendor/llama.cpp" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
          -DCMAKE_C_FLAGS="$NOAMX" -DCMAKE_CXX_FLAGS="$NOAMX" \
          -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON >/dev/null
  fi
  nice -n 10 cmake --build "$WORK/build" --target "$TARGET" -j 2 >/dev/null
fi
echo "$BIN"
