#!/usr/bin/env bash
# Install the open-source EDA tools `roma rtl verify` and the ROMARTL tests use:
#   iverilog (Icarus Verilog: iverilog + vvp) for testbench simulation,
#   yosys for generic synthesis (cell counts) and formal equivalence (SAT),
#   verilator (the L-Unit slice's second simulator).
# Idempotent: does nothing when both are already on PATH. Debian/Ubuntu (apt-get); needs root or sudo.
set -euo pipefail
if command -v iverilog >/dev/null && command -v vvp >/dev/null && command -v yosys >/dev/null && command -v verilator >/dev/null; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "installing iverilog, yosys and verilator (apt-get) ..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq iverilog yosys verilator >/dev/null
command -v iverilog >/dev/null && command -v vvp >/dev/null && command -v yosys >/dev/null && command -v verilator >/dev/null || {
    echo "error: iverilog/yosys/verilator still missing after apt-get install" >&2; exit 1; }
echo "EDA tools ready: $(iverilog -V 2>&1 | head -1); $(yosys -V)" >&2
