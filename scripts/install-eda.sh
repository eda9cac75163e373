#!/usr/bin/env bash
# Install the open-source EDA tools `roma rtl verify` and the ROMARTL tests use:
#   iverilog (Icarus Verilog: iverilog + vvp) for testbench simulation,
#   yosys for generic synthesis (cell counts) and formal equivalence (SAT),
#   verilator (the L-Unit slice's second simulator; the tests say when it is missing).
# Idempotent: does nothing when all are already on PATH. Debian/Ubuntu (apt-get); needs root or sudo.
# iverilog and yosys are required (exit 1 if they cannot be installed); verilator is installed when
# the package is available.
set -euo pipefail
have() { command -v "$1" >/dev/null; }
if have iverilog && have vvp && have yosys && have verilator; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "installing iverilog, yosys and verilator (apt-get) ..." >&2
$SUDO apt-get update -qq || true
if ! { have iverilog && have vvp && have yosys; }; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq iverilog yosys >/dev/null
fi
have verilator || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq verilator >/dev/null \
    || echo "warning: verilator could not be installed; the L-Unit tests simulate with Icarus only" >&2
have iverilog && have vvp && have yosys || {
    echo "error: iverilog/yosys still missing after apt-get install" >&2; exit 1; }
echo "EDA tools ready: $(iverilog -V 2>&1 | head -1); $(yosys -V); $(verilator --version 2>/dev/null || echo 'no verilator')" >&2
