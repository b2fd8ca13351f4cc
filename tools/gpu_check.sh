#!/usr/bin/env bash
# The GPU checks of issue 7 as one device call (GPU time is short: prepare here, run there once).
#
#   tools/gpu_check.sh pack [BUILD_DIR]   here: bundles BUILD_DIR/hwnas and hwnas_tests (a CUDA
#                                         build, sm_90) with their libraries, and the PyTorch
#                                         peers, into .gpu/ (git-ignored through .git/info/exclude)
#   device tool: command ".gpu/gpu_check.sh run", carry [".gpu"]
#
# `run` prints the GPU's name, runs every CUDA test (CPU vs CUDA for each op, the allocator,
# training steps, the cuda target), then the throughput comparisons of the issue, each side by
# side with the PyTorch peer on the same GPU in the same call (eager fp32 on both sides: neither
# has a bf16 autocast mode yet): elastic-mobile sandwich at batch 512, ordered dropout, and FBNet
# arch 0 training at batch 256. Everything goes to stdout and to $OUT (or .gpu/out).
set -euo pipefail
mode=${1:-}
case "$mode" in
  pack)
    build=${2:-build}
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    cd "$here"
    for b in "$build/hwnas" "$build/hwnas_tests"; do
      [ -x "$b" ] || { echo "gpu_check pack: $b is missing: build the CUDA configuration first" >&2; exit 1; }
    done
    rm -rf .gpu
    ../shared/tools/device-bundle.sh .gpu "$build/hwnas" "$build/hwnas_tests"
    cp -r ../shared/peers .gpu/peers
    rm -rf .gpu/peers/__pycache__
    cp tools/gpu_check.sh .gpu/gpu_check.sh
    grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
    du -sh .gpu
    ;;
  run)
    g=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    out=${OUT:-$g/out}
    mkdir -p "$out"
    exec > >(tee "$out/gpu_check.log") 2>&1
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    echo "== CUDA tests"
    "$g/run" hwnas_tests --gtest_filter='*Cuda*:CachingAllocator.*:CudaTarget.*' --gtest_output="xml:$out/cuda_tests.xml" || true
    echo "== elastic-mobile sandwich, batch 512 (subnet_images_per_s)"
    for i in 1 2 3; do
      "$g/run" hwnas bench sandwich --batch 512 --steps 10 --warmup 3 --device cuda || true
      python3 "$g/peers/elastic_torch.py" sandwich --batch 512 --device cuda || true
    done
    echo "== elastic-mobile ordered dropout, batch 512, 4 groups"
    "$g/run" hwnas bench ordered-dropout --batch 512 --groups 4 --steps 10 --warmup 3 --device cuda || true
    echo "== FBNet arch 0 training, batch 256 (images_per_s)"
    arch0="k5_e6,skip,k3_e1_g2,skip,k5_e1,skip,skip,skip,k5_e6,k5_e1,k3_e1_g2,k5_e1,k5_e6,k3_e6,k3_e3,k5_e6,k3_e6,k3_e3,k5_e1,k3_e3,k5_e1,k5_e1_g2"
    for i in 1 2 3; do
      "$g/run" hwnas bench train --net "fbnet:$arch0" --batch 256 --steps 10 --warmup 3 --device cuda || true
      python3 "$g/peers/fbnet_torch.py" train --arch "$arch0" --batch 256 --device cuda || true
    done
    ;;
  *)
    echo "usage: tools/gpu_check.sh pack [BUILD_DIR] | run" >&2
    exit 2
    ;;
esac
