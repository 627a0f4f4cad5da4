#!/usr/bin/env bash
# CUDA-tensor snapshots and NVML detection on a real GPU machine.
#
#   bash scripts/gpu_check.sh prepare   # here, with a package index: the wheels the GPU
#                                       # machine lacks (ipykernel, jupyter_client, dill,
#                                       # blake3 and their needs) into .whl/, about 15 MB
#   bash scripts/gpu_check.sh run       # there: installs them to /tmp/site and runs the GPU
#                                       # tests against this source tree
#
# The GPU machine brings its own Python, torch, numpy, pytest and psutil. The tests run
# without tests/conftest.py, which needs a Jupyter server these two files do not use.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
prepare)
  rm -rf .whl
  mkdir .whl
  python3 -m pip download -q --only-binary=:all: \
    --python-version "${GPU_PYTHON_VERSION:-3.12}" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 \
    -d .whl ipykernel jupyter_client dill blake3
  # Already on the GPU machine, in versions its torch was built with.
  rm -f .whl/psutil-* .whl/packaging-* .whl/typing_extensions-* .whl/pygments-* \
    .whl/python_dateutil-*
  du -sh .whl
  ;;
run)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
  python3 -m pytest -q -p no:cacheprovider --noconftest -rs \
    tests/test_cuda_snapshot.py tests/test_gpu_machine.py
  ;;
*)
  echo "usage: bash scripts/gpu_check.sh prepare|run" >&2
  exit 2
  ;;
esac
