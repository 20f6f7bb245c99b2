#!/usr/bin/env bash
# Fetches NVIDIA's CUDA compilers from PyPI into target/nvrtc/ (no GPU and no CUDA toolkit needed):
# libnvrtc (nvidia-cuda-nvrtc-cu12), ptxas (nvidia-cuda-nvcc-cu12) and nvdisasm
# (nvidia-cuda-nvdisasm), so that tests/nvrtc.rs compiles kernels.cu to PTX and to H100 machine
# code and checks both. Prints the environment to use:
#
#   eval "$(crates/hop-gpu/scripts/fetch-nvrtc.sh)"
#   HOP_REQUIRE_NVRTC=1 cargo test -p hop-gpu --test nvrtc -- --nocapture
#
# The NVRTC wheel's major version must match cudarc's `cuda-12xxx` feature (12 here).
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
dest="$root/target/nvrtc"
lib="$dest/nvidia/cuda_nvrtc/lib"
fetch() { # package, path of a file it must provide
  if [ ! -e "$2" ]; then
    mkdir -p "$dest/wheel"
    python3 -m pip download --quiet --no-deps --dest "$dest/wheel" "$1" >&2
    for w in "$dest"/wheel/*.whl; do python3 -m zipfile -e "$w" "$dest" >&2; done
    rm -rf "$dest/wheel"
  fi
}
fetch nvidia-cuda-nvrtc-cu12 "$lib/libnvrtc.so.12"
fetch nvidia-cuda-nvcc-cu12 "$dest/nvidia/cuda_nvcc/bin/ptxas"
# Only ptxas is needed from that wheel.
find "$dest/nvidia/cuda_nvcc" -mindepth 1 -maxdepth 1 ! -name bin -exec rm -rf {} +
find "$dest/nvidia/cuda_nvcc/bin" -mindepth 1 ! -name ptxas -exec rm -rf {} +
nvdisasm="$(find "$dest/nvidia" -name nvdisasm -type f 2>/dev/null | head -1)"
if [ -z "$nvdisasm" ]; then
  fetch nvidia-cuda-nvdisasm "$dest/nvdisasm-missing"
  nvdisasm="$(find "$dest/nvidia" -name nvdisasm -type f | head -1)"
fi
chmod +x "$dest/nvidia/cuda_nvcc/bin/ptxas" "$nvdisasm"
# cudarc tries libnvrtc.so.12 among its names, which the wheel ships.
echo "export LD_LIBRARY_PATH=$lib"
echo "export HOP_PTXAS=$dest/nvidia/cuda_nvcc/bin/ptxas"
echo "export HOP_NVDISASM=$nvdisasm"
