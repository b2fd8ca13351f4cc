#!/usr/bin/env bash
# The GPU checks of issue 7 as one device call (GPU time is short: prepare here, run there once).
#
#   tools/gpu_check.sh pack [BUILD_DIR]   here: bundles BUILD_DIR/hwnas, hwnas_tests and cuda_bench
#                                         (a CUDA build, sm_90) with their libraries into
#                                         .gpu/bundle.tar.xz (about 15 MB; unpacked it is over the
#                                         device tool's 64 MiB carry limit), with the PyTorch peers
#                                         and the first 6000/2000 Fashion-MNIST training/test images,
#                                         into .gpu/ (git-ignored through .git/info/exclude)
#   device tool: command ".gpu/gpu_check.sh run", carry [".gpu"]
#
# `run` prints the GPU's name, runs every CUDA test (CPU vs CUDA for each op, fused kernels and
# their composed references, the allocator, training steps, the cuda target), the kernel lab
# (cuda_bench: each fused kernel's GB/s and % of peak bandwidth against its composed path, and
# the multi-tensor optimizer steps), then the throughput comparisons of the issue, each side by
# side with the PyTorch peer on the same GPU in the same call, eager fp32 on both sides and then
# bf16 autocast on both (hwnas --autocast bf16; the peer under torch.autocast through
# bench/peer_autocast.py): elastic-mobile sandwich at batch 512 (fused kernels on and off),
# ordered dropout, and FBNet arch 0 training at batch 256; last, one short supernet epoch on the
# GPU, whose history says how many cudaMalloc calls its steps still made after the reserve.
# Everything goes to stdout and to $OUT (or .gpu/out).
set -euo pipefail
mode=${1:-}
case "$mode" in
  pack)
    build=${2:-build}
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    cd "$here"
    for b in "$build/hwnas" "$build/hwnas_tests" "$build/cuda_bench"; do
      [ -x "$b" ] || { echo "gpu_check pack: $b is missing: build the CUDA configuration first" >&2; exit 1; }
    done
    rm -rf .gpu .gpu-unpacked
    ../shared/tools/device-bundle.sh .gpu-unpacked "$build/hwnas" "$build/hwnas_tests" "$build/cuda_bench"
    mkdir -p .gpu
    (cd .gpu-unpacked && tar -cf - bin lib run | xz -6 -T2 > ../.gpu/bundle.tar.xz)
    rm -rf .gpu-unpacked
    cp -r ../shared/peers .gpu/peers
    # A Fashion-MNIST subset in the IDX format (header counts rewritten), for one short epoch.
    python3 - /usr/share/datasets/fashion-mnist .gpu/fashion-mnist <<'PY'
import gzip, os, struct, sys
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)
for split, n in (("train", 6000), ("t10k", 2000)):
    for kind, item in (("images-idx3-ubyte", 28 * 28), ("labels-idx1-ubyte", 1)):
        raw = gzip.open(os.path.join(src, f"{split}-{kind}.gz")).read()
        head = 16 if item > 1 else 8
        out = raw[:4] + struct.pack(">I", n) + raw[8:head] + raw[head:head + n * item]
        with gzip.open(os.path.join(dst, f"{split}-{kind}.gz"), "wb") as f:
            f.write(out)
PY
    rm -rf .gpu/peers/__pycache__
    cp tools/gpu_check.sh .gpu/gpu_check.sh
    for d in /.gpu/ /.gpu-unpacked/; do grep -qx "$d" .git/info/exclude 2>/dev/null || echo "$d" >> .git/info/exclude; done
    du -sh .gpu
    ;;
  run)
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    out=${OUT:-$here/out}
    mkdir -p "$out"
    exec > >(tee "$out/gpu_check.log") 2>&1
    # The programs and libraries unpack beside /tmp; the peers and data are read where they came.
    g=/tmp/hwnas-gpu
    rm -rf "$g" && mkdir -p "$g"
    python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$here/bundle.tar.xz" "$g"
    ln -s "$here/peers" "$g/peers"
    ln -s "$here/fashion-mnist" "$g/fashion-mnist"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    echo "== CUDA tests"
    "$g/run" hwnas_tests --gtest_filter='*Cuda*:CachingAllocator.*:CudaTarget.*' --gtest_output="xml:$out/cuda_tests.xml" || true
    echo "== kernel lab: fused kernels vs their composed paths, optimizer steps"
    "$g/run" cuda_bench --benchmark_out="$out/cuda_bench.json" --benchmark_out_format=json || true
    echo "== elastic-mobile sandwich, batch 512 (subnet_images_per_s)"
    for i in 1 2 3; do
      "$g/run" hwnas bench sandwich --batch 512 --steps 10 --warmup 3 --device cuda || true
      python3 "$g/peers/elastic_torch.py" sandwich --batch 512 --device cuda || true
    done
    echo "== elastic-mobile ordered dropout, batch 512, 4 groups"
    "$g/run" hwnas bench ordered-dropout --batch 512 --groups 4 --steps 10 --warmup 3 --device cuda || true
    echo "== sandwich with the composed paths instead of the fused kernels (HWNAS_FUSED=0)"
    HWNAS_FUSED=0 "$g/run" hwnas bench sandwich --batch 512 --steps 10 --warmup 3 --device cuda || true
    echo "== FBNet arch 0 training, batch 256 (images_per_s)"
    arch0="k5_e6,skip,k3_e1_g2,skip,k5_e1,skip,skip,skip,k5_e6,k5_e1,k3_e1_g2,k5_e1,k5_e6,k3_e6,k3_e3,k5_e6,k3_e6,k3_e3,k5_e1,k3_e3,k5_e1,k5_e1_g2"
    for i in 1 2 3; do
      "$g/run" hwnas bench train --net "fbnet:$arch0" --batch 256 --steps 10 --warmup 3 --device cuda || true
      python3 "$g/peers/fbnet_torch.py" train --arch "$arch0" --batch 256 --device cuda || true
    done
    echo "== bf16 autocast: sandwich batch 512 and FBNet arch 0 batch 256, hwnas --autocast bf16 vs torch.autocast"
    for i in 1 2 3; do
      "$g/run" hwnas bench sandwich --batch 512 --steps 10 --warmup 3 --device cuda --autocast bf16 || true
      python3 "$here/../bench/peer_autocast.py" "$g/peers/elastic_torch.py" sandwich --batch 512 --device cuda || true
      "$g/run" hwnas bench train --net "fbnet:$arch0" --batch 256 --steps 10 --warmup 3 --device cuda --autocast bf16 || true
      python3 "$here/../bench/peer_autocast.py" "$g/peers/fbnet_torch.py" train --arch "$arch0" --batch 256 --device cuda || true
    done
    echo "== one supernet epoch on the GPU (5120 images): reserve, then device_mallocs per epoch"
    rm -rf "$out/sn"
    "$g/run" hwnas supernet train --device cuda --epochs 1 --train-limit 5120 --test-limit 2000 \
      --data-dir "$g/fashion-mnist" --out "$out/sn" || true
    python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['epochs'])" "$out/sn/history.json" || true
    ;;
  *)
    echo "usage: tools/gpu_check.sh pack [BUILD_DIR] | run" >&2
    exit 2
    ;;
esac
