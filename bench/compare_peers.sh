#!/usr/bin/env bash
# Side-by-side speed of hwnas against the peers (../shared/peers): PyTorch for training and
# inference, ONNX Runtime for inference (on the PyTorch peer's ONNX export). Every case runs
# RUNS times, interleaved (hwnas, peer, hwnas, peer...) so that machine noise hits both alike;
# the table shows medians and the ratio.
# Usage: bench/compare_peers.sh [BUILD_DIR] [RUNS]     (default build, 3); ONLY=sandwich for that case alone
# Needs: ../shared/peers/install.sh run once (PyTorch, onnxruntime-node).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
runs=${2:-3}
peers=${HWNAS_PEERS:-$here/../shared/peers}
export NODE_PATH=${NODE_PATH:-$HOME/.cache/hwnas-peers/node_modules}
hwnas=$build/hwnas
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -x "$hwnas" ] || { echo "no $hwnas: build first" >&2; exit 1; }

field() { $py -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }
median() { $py -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }

"$py" "$peers/elastic_torch.py" export --arch max --out "$tmp/em_max.onnx" >/dev/null 2>&1
"$py" "$peers/elastic_torch.py" export --arch min --out "$tmp/em_min.onnx" >/dev/null 2>&1
"$py" "$peers/fbnet_torch.py" export --arch 0 --out "$tmp/fb0.onnx" >/dev/null 2>&1

printf '%-34s %12s %12s %12s %8s\n' case hwnas pytorch onnxruntime ratio
train_case() {  # name, hwnas net, batch, peer command...
  local name=$1 net=$2 batch=$3; shift 3
  local h=() p=()
  for _ in $(seq "$runs"); do
    h+=("$("$hwnas" bench train --net "$net" --batch "$batch" --threads 2 | field images_per_s)")
    p+=("$("$py" "$@" 2>/dev/null | field "${PEER_FIELD:-images_per_s}")")
  done
  local hm pm
  hm=$(median "${h[@]}"); pm=$(median "${p[@]}")
  printf '%-34s %12.1f %12.1f %12s %7.2fx\n' "$name (img/s)" "$hm" "$pm" - "$($py -c "print($hm/$pm)")"
}
sandwich_case() {  # name, batch
  local name=$1 batch=$2
  local h=() p=() o=()
  for _ in $(seq "$runs"); do
    h+=("$("$hwnas" bench sandwich --space elastic-mobile --batch "$batch" --threads 2 | field subnet_images_per_s)")
    p+=("$("$py" "$peers/elastic_torch.py" sandwich --batch "$batch" --threads 2 2>/dev/null | field subnet_images_per_s)")
    o+=("$("$hwnas" bench ordered-dropout --space elastic-mobile --batch "$batch" --threads 2 --steps 20 | field subnet_images_per_s)")
  done
  local hm pm om
  hm=$(median "${h[@]}"); pm=$(median "${p[@]}"); om=$(median "${o[@]}")
  printf '%-34s %12.1f %12.1f %12s %7.2fx\n' "$name (subnet-img/s)" "$hm" "$pm" - "$($py -c "print($hm/$pm)")"
  # Ours only (the peer has no ordered dropout): the ratio is against our own sandwich step.
  printf '%-34s %12.1f %12s %12s %7.2fx of sandwich\n' "ordered-dropout b$batch t2, 4 groups" "$om" - - "$($py -c "print($om/$hm)")"
}
infer_case() {  # name, hwnas net, onnx file, peer command...
  local name=$1 net=$2 onnx=$3; shift 3
  local h=() p=() o=()
  for _ in $(seq "$runs"); do
    h+=("$("$hwnas" bench infer --net "$net" --batch 1 --threads 1 | field latency_ms)")
    p+=("$("$py" "$@" 2>/dev/null | field latency_ms)")
    o+=("$(node "$peers/ort_bench.js" "$onnx" --batch 1 --threads 1 | field latency_ms)")
  done
  local hm pm om
  hm=$(median "${h[@]}"); pm=$(median "${p[@]}"); om=$(median "${o[@]}")
  printf '%-34s %12.3f %12.3f %12.3f   %s\n' "$name (ms)" "$hm" "$pm" "$om" \
    "$($py -c "print(f'{$pm/$hm:.2f}x faster than pytorch, {$hm/$om:.2f}x ort latency')")"
}
[ "${ONLY:-}" = sandwich ] && { sandwich_case "elastic-mobile sandwich b128 t2" 128; exit 0; }
PEER_FIELD=subnet_images_per_s train_case "elastic-mobile max train b128 t2" elastic-mobile:max 128 \
  "$peers/elastic_torch.py" subnet --arch max --batch 128 --threads 2
sandwich_case "elastic-mobile sandwich b128 t2" 128
train_case "fbnet arch 0 train b64 t2" fbnet:0 64 "$peers/fbnet_torch.py" train --arch 0 --batch 64 --threads 2
infer_case "elastic-mobile max infer b1 t1" elastic-mobile:max "$tmp/em_max.onnx" "$peers/elastic_torch.py" infer --arch max
infer_case "elastic-mobile min infer b1 t1" elastic-mobile:min "$tmp/em_min.onnx" "$peers/elastic_torch.py" infer --arch min
infer_case "fbnet arch 0 infer b1 t1" fbnet:0 "$tmp/fb0.onnx" "$peers/fbnet_torch.py" infer --arch 0
