#!/usr/bin/env bash
# The export must-show numbers (docs/export.md): for fbnet:0, elastic-mobile max and min, a random
# elastic-mobile subnet with Split-Attention, and a subnet extracted from a supernet checkpoint:
#   - ONNX (opset 13, dynamic batch, batch norm folded) run in ONNX Runtime against the engine:
#     max |ort - engine| on random inputs, and on real Fashion-MNIST test images for the
#     elastic-mobile networks (fbnet:0 takes CIFAR-sized 3x32x32 inputs: random only);
#   - latency at batch 1, 1 thread: the engine (hwnas measure --target host-cpu) next to ONNX
#     Runtime (hwnas measure --target onnxruntime, and the exported file itself timed by ort_run.js);
#   - safetensors: read back by a numpy reader (bench/export_check.py), the naming rule of
#     docs/export.md checked tensor by tensor, loaded into the PyTorch peer (strict
#     load_state_dict) and its outputs compared with the engine's on the same input.
# Weights are real, not initial: elastic-mobile max/min and the Split-Attention subnet are trained
# for one short epoch (`hwnas train`, a slice of Fashion-MNIST); the supernet is trained for one
# short epoch (`hwnas supernet train`) and the subnet extracted with BN recalibration; fbnet:0
# (CIFAR-100 is not installed) gets the PyTorch peer's weights with non-trivial BN statistics,
# written by numpy and imported with --weights.
# Usage: bench/export_check.sh [BUILD_DIR] [WORK_DIR]    (default: build, a temporary folder)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
work=${2:-}
hwnas=$build/hwnas
py=/usr/bin/python3
helper=$here/bench/export_check.py
[ -x "$hwnas" ] || { echo "no $hwnas: build first" >&2; exit 1; }
if [ -z "$work" ]; then work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
mkdir -p "$work"
export NODE_PATH=${NODE_PATH:-}${NODE_PATH:+:}${HWNAS_NODE_DIR:-$HOME/.cache/hwnas/node}/node_modules
runs=${RUNS:-200}
limit=${TRAIN_LIMIT:-2048}
log() { echo "# $*" >&2; }
last() { tail -n 1; }
get() { $py -c "import json,sys; d=json.loads(sys.stdin.read()); print(eval('d' + ''.join('[%r]' % k for k in sys.argv[1:])))" "$@"; }

# ---- networks with real weights -------------------------------------------------------------
log "fbnet:0 weights from the PyTorch peer (numpy-written safetensors)"
$py "$helper" fbnet-peer-weights "$work/fbnet0_peer.safetensors" >/dev/null
for a in max min; do
  [ -f "$work/em-$a/checkpoint.hwnas" ] || {
    log "training elastic-mobile:$a for 1 epoch on $limit images"
    "$hwnas" train --net elastic-mobile:$a --epochs 1 --train-limit "$limit" --test-limit 1000 --out "$work/em-$a" --quiet >/dev/null; }
done
"$hwnas" net 'elastic-mobile:{"kernel":[5,3,3,5,5,3,5,3,3,5],"expand":[4,6,2,4,6,2,6,4,4,2],"depth":[2,2,3,1]}' >"$work/em_rand.json"
$py "$helper" split-attention "$work/em_rand.json" "$work/sa.json" 7 >"$work/sa_radix.json"
[ -f "$work/sa/checkpoint.hwnas" ] || {
  log "training the Split-Attention subnet for 1 epoch on $limit images"
  "$hwnas" train --net "$work/sa.json" --epochs 1 --train-limit "$limit" --test-limit 1000 --out "$work/sa" --quiet >/dev/null; }
[ -f "$work/sn/checkpoint.hwnas" ] || {
  log "training the elastic-mobile supernet (sandwich) for 1 epoch on $limit images"
  "$hwnas" supernet train --space elastic-mobile --sampler sandwich --epochs 1 --train-limit "$limit" --test-limit 1000 \
    --recal-batches 5 --eval-archs max --out "$work/sn" --quiet >/dev/null; }
sub_arch=$("$hwnas" space sample --space elastic-mobile -n 1 --seed 11 | last)

# name | export source flags | network for latency | real images?
cases=(
  "fbnet:0|--net fbnet:0 --weights $work/fbnet0_peer.safetensors|fbnet:0|no"
  "elastic-mobile:max|--net $work/em-max|elastic-mobile:max|yes"
  "elastic-mobile:min|--net $work/em-min|elastic-mobile:min|yes"
  "em random + Split-Attention|--net $work/sa|$work/sa.json|yes"
  "supernet subnet (extracted)|--checkpoint $work/sn/checkpoint.hwnas --arch $sub_arch --recal-batches 20|elastic-mobile:$sub_arch|yes"
)

rm -f "$work/summary.jsonl"
i=0
for c in "${cases[@]}"; do
  IFS='|' read -r name src latnet real <<<"$c"
  i=$((i + 1))
  f="$work/case$i"
  log "$name"
  read -ra src_args <<<"$src"
  # ONNX: export + ONNX Runtime agreement on random input (batch 4), then on real images (batch 64).
  onnx=$("$hwnas" export "${src_args[@]}" --format onnx --out "$f.onnx" --check --check-batch 4 | last)
  echo "$onnx"
  real_json='{}'
  if [ "$real" = yes ]; then
    real_json=$("$hwnas" export "${src_args[@]}" --format onnx --out "$f.onnx" --check --check-input fashion-mnist --check-batch 64 | last)
    echo "$real_json"
  fi
  # Latency, batch 1, 1 thread: the engine, ONNX Runtime on the same network, and the exported file itself.
  ours=$("$hwnas" measure --target host-cpu --net "$latnet" --threads 1 --runs "$runs" | last)
  ort=$("$hwnas" measure --target onnxruntime --net "$latnet" --threads 1 --runs "$runs" | last)
  file_ort=$(node "$here/tools/ort_run.js" time --threads 1 --batch 1 --warmup 20 --runs "$runs" "$f.onnx" | last)
  echo "$ours"; echo "$ort"; echo "$file_ort"
  # safetensors: peer names (auto) and module paths, the engine's reference outputs, the independent checks.
  input=random; [ "$real" = yes ] && input=fashion-mnist
  st=$("$hwnas" export "${src_args[@]}" --format safetensors --out "$f.safetensors" --check --check-input "$input" \
        --check-batch 8 --reference-out "$f.ref.safetensors" | last)
  echo "$st"
  "$hwnas" export "${src_args[@]}" --format safetensors --names hwnas --out "$f.hwnas.safetensors" >/dev/null
  orig=(); [ "$name" = "fbnet:0" ] && orig=(--orig "$work/fbnet0_peer.safetensors")
  chk=$($py "$helper" check --auto "$f.safetensors" --hwnas "$f.hwnas.safetensors" --ref "$f.ref.safetensors" "${orig[@]}")
  echo "$chk"
  $py - "$name" "$onnx" "$real_json" "$ours" "$ort" "$file_ort" "$st" "$chk" >>"$work/summary.jsonl" <<'PY'
import json, sys
name, onnx, real, ours, ort, fo, st, chk = sys.argv[1], *map(json.loads, sys.argv[2:])
print(json.dumps({'network': name, 'onnx_random': onnx['check']['max_abs_diff'],
                  'onnx_fmnist': real.get('check', {}).get('max_abs_diff'), 'engine_ms': ours['cost']['latency_ms'],
                  'ort_ms': ort['cost']['latency_ms'], 'ort_file_ms': fo['median_ms'], 'naming': st['naming'],
                  'reimport_diff': st['check']['max_abs_diff'], 'st_input': st['check']['input'], **chk}))
PY
done

echo
$py - "$work/summary.jsonl" "$runs" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
g = lambda v: '-' if v is None else f'{v:.2g}'
print(f'ONNX (opset 13, BN folded, dynamic batch) in ONNX Runtime vs the engine: max |ort - engine| on random inputs (batch 4)')
print(f'and on the first 64 Fashion-MNIST test images; latency ms at batch 1, 1 thread, median of {sys.argv[2]}: the engine')
print(f'(measure host-cpu), ONNX Runtime (measure onnxruntime) and ONNX Runtime on the exported file (ort_run.js).')
print(f'{"network":30} {"ort rand":>9} {"ort fmnist":>10} {"engine":>7} {"ort":>7} {"ort file":>8}')
for r in rows:
    print(f'{r["network"]:30} {g(r["onnx_random"]):>9} {g(r["onnx_fmnist"]):>10} {r["engine_ms"]:7.3f} {r["ort_ms"]:7.3f} {r["ort_file_ms"]:8.3f}')
print()
print('safetensors: naming, numpy reader (+ naming rule checked tensor by tensor), PyTorch peer loaded with strict')
print('load_state_dict: max |torch - engine| on the same 8 inputs, our re-import: max |reimported - engine|.')
print(f'{"network":30} {"naming":25} {"numpy":6} {"rule":>5} {"torch":>8} {"input":>13} {"reimport":>8}')
for r in rows:
    torch = g(r['pytorch_max_abs_diff']) if 'pytorch_max_abs_diff' in r else 'no peer'
    extra = '  (same tensors as the PyTorch file imported)' if r.get('same_as_original_peer_file') else ''
    print(f'{r["network"]:30} {r["naming"]:25} {r["numpy_reader"]:6} {r.get("naming_rule_tensors_compared", "-"):>5} '
          f'{torch:>8} {r["st_input"]:>13} {g(r["reimport_diff"]):>8}{extra}')
PY
echo "Split-Attention radix per block: $(cat "$work/sa_radix.json")"
echo "supernet subnet arch: $sub_arch"
