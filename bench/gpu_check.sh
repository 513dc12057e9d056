#!/usr/bin/env bash
# Every GPU figure in one run (under 8 minutes on one H100): versions, the op tests on the GPU against the CPU,
# the benchmarks against PyTorch eager on the same card, and ResNet-18 trained on Fashion-MNIST.
#   bash bench/gpu_check.sh [--data DIR]      (figures go to $OUT/gpu_figures.json, or bench/gpu_figures.json)
#   bash bench/gpu_check.sh --dry-run         (the same Python paths on the strict stand-in device, no GPU)
# Needs: CuPy for the card's CUDA (cupy-cuda13x), PyTorch with CUDA, Numba; runs from the repository with
# PYTHONPATH=. (no install). Full Fashion-MNIST in --data DIR or NEURONA_DATA (the IDX files).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=.
PY=${PYTHON:-python3}
FIG=${OUT:-bench}/gpu_figures.json
timeout 470 "$PY" bench/gpu_bench.py --out "$FIG" "$@"
echo "figures: $FIG"
