#!/usr/bin/env bash
# CUDA-tensor snapshots and NVML detection on a real GPU machine, and what GPU snapshots cost.
#
#   bash scripts/gpu_check.sh prepare   # here, with a package index: the wheels the GPU
#                                       # machine lacks (ipykernel, jupyter_client, dill,
#                                       # blake3 and their needs) into .whl/, about 15 MB
#   bash scripts/gpu_check.sh run       # there, without network: installs them to /tmp/site,
#                                       # runs the GPU tests against this source tree, then
#                                       # benchmarks/bench_cuda.py at full size (16 + 8 GiB)
#
# Under 8 minutes on one H200: the tests are given 3, the benchmark 4 (it takes about 3; a
# smaller GPU or a slow disk: BENCH_SCALE=0.25). With $OUT set, the test log, the
# benchmark's log, its table (bench_cuda.md) and its numbers (bench_cuda.json) go there.
#
# The GPU machine brings its own Python, torch, numpy, pytest and psutil. The tests run
# without tests/conftest.py, which needs a Jupyter server these files do not use.
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
  out="${OUT:-$(mktemp -d)}"
  mkdir -p "$out"
  site="${GPU_SITE:-/tmp/site}"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target "$site" .whl/*.whl
  export PYTHONPATH="$site:$PWD"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
  status=0
  timeout 180 python3 -m pytest -q -p no:cacheprovider --noconftest -rs \
    tests/test_cuda_snapshot.py tests/test_gpu_machine.py tests/test_cuda_blocks.py \
    tests/test_device_snapshot.py 2>&1 | tee "$out/gpu_tests.log" || status=1
  timeout 240 python3 benchmarks/bench_cuda.py --scale "${BENCH_SCALE:-1}" \
    --json "$out/bench_cuda.json" --markdown "$out/bench_cuda.md" \
    2>&1 | tee "$out/bench_cuda.log" || status=1
  echo "results in $out"
  exit "$status"
  ;;
*)
  echo "usage: bash scripts/gpu_check.sh prepare|run" >&2
  exit 2
  ;;
esac
