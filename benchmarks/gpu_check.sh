#!/usr/bin/env bash
# The checks to run on a machine with an NVIDIA GPU: the CUDA tests, then the step benchmark
# in fp32 and bf16. Figures go to $OUT (or ./out) as JSON beside the printed tables.
set -u
out=${OUT:-out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
python3 -m pytest -q -p no:cacheprovider tests/gpu tests/nst/test_losses.py tests/nst/test_methods.py 2>&1 | tail -5
for precision in fp32 bf16; do
  python3 -m benchmarks.bench --sizes 256 512 1024 --steps 20 --warmup 5 --precision "$precision" \
    --json "$out/bench_$precision.json"
done
