#!/usr/bin/env bash
# The command line's contract: bad flags, paths and JSON give one clear line on stderr that
# names the problem, and a non-zero exit; good invocations print JSON.
# Usage: cli_test.sh PATH/TO/hwnas
set -uo pipefail
hwnas=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

expect_error() {  # description, expected substring, command...
  local what=$1 needle=$2; shift 2
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -ne 0 ] && grep -qF -- "$needle" <<<"$err" && [ "$(grep -c . <<<"$err")" -le 3 ]; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1)); echo "FAIL: $what (exit $rc): $err"
  fi
}
expect_json() {  # description, key, command...
  local what=$1 key=$2; shift 2
  local out
  if out=$("$@" 2>/dev/null) && /usr/bin/python3 -c "import json,sys; t=sys.argv[1].strip(); d=json.loads(t if t.startswith('{\n') else t.splitlines()[-1]); assert '$key' in d" "$out"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1)); echo "FAIL: $what: $out"
  fi
}

echo '{"input": [1, 28, 28], "classes": 10, "layers": [{"type": "conv_bn_act", "out": 4, "kernel": 0}]}' > "$tmp/bad.json"
echo '{"input": [1, 28' > "$tmp/broken.json"
# A tiny trained fixed network and supernet for the eval/extract checks.
"$hwnas" train --net elastic-mobile:min --epochs 1 --batch 16 --train-limit 32 --test-limit 16 --out "$tmp/tr" --quiet >/dev/null 2>&1
"$hwnas" supernet train --sampler uniform --epochs 1 --batch 16 --train-limit 32 --test-limit 16 --recal-batches 1 --out "$tmp/sn1" --quiet >/dev/null 2>&1

expect_error "unknown subcommand" "unknown command \"warp\"" "$hwnas" warp
expect_error "unknown network" "not a built-in" "$hwnas" bench infer --net nonsense
expect_error "bad layer" "layer 0" "$hwnas" bench infer --net "$tmp/bad.json"
expect_error "broken JSON" "invalid JSON" "$hwnas" bench infer --net "$tmp/broken.json"
expect_error "bad elastic arch" "expand[0] = 5" "$hwnas" net 'elastic-mobile:{"kernel":[3,3,3,3,3,3,3,3,3,3],"expand":[5,2,2,2,2,2,2,2,2,2],"depth":[1,1,1,1]}'
expect_error "bad fbnet op" 'layer 21 has unknown op "k9_e9"' "$hwnas" net fbnet:$(printf 'k3_e1,%.0s' $(seq 21))k9_e9
expect_error "fbnet arch too short" "22 layers, got 2" "$hwnas" net fbnet:k3_e1,skip
expect_error "negative batch" "batch" "$hwnas" bench train --net elastic-mobile:min --batch -4
expect_error "non-numeric flag" "--epochs" "$hwnas" train --epochs many
expect_error "missing dataset dir" "$tmp/none" "$hwnas" train --data-dir "$tmp/none" --epochs 1
expect_error "cifar without dir" "--data-dir" "$hwnas" train --dataset cifar10 --net elastic-mobile:min
expect_error "resume without out" "--out" "$hwnas" train --resume
expect_error "sandwich on a space without supernet" "not supported" "$hwnas" bench sandwich --space fbnet
expect_error "unknown space" 'search space "nope"' "$hwnas" space info --space nope
expect_error "unknown sampler" 'unknown --sampler "spos"' "$hwnas" supernet train --sampler spos --out "$tmp/sn"
expect_error "supernet on fbnet" 'not supported' "$hwnas" supernet train --space fbnet
expect_error "eval without checkpoint file" "$tmp/none.hwnas" "$hwnas" eval --checkpoint "$tmp/none.hwnas"
expect_error "eval of a non-supernet checkpoint" "not a supernet checkpoint" "$hwnas" eval --checkpoint "$tmp/tr/checkpoint.hwnas"
expect_error "extract with a bad arch" "kernel[0] = 4" "$hwnas" extract --checkpoint "$tmp/sn1/checkpoint.hwnas" --out "$tmp/x" --recal-batches 0 --arch '{"kernel":[4,3,3,3,3,3,3,3,3,3],"expand":[2,2,2,2,2,2,2,2,2,2],"depth":[1,1,1,1]}'
expect_json "extract" "params" "$hwnas" extract --checkpoint "$tmp/sn1/checkpoint.hwnas" --out "$tmp/x" --recal-batches 0 --arch min
expect_json "bench ordered-dropout" "subnet_images_per_s" "$hwnas" bench ordered-dropout --batch 8 --steps 1 --warmup 0
expect_json "info" "onednn" "$hwnas" info
expect_json "space info" "log10_architectures" "$hwnas" space info --space elastic-mobile --samples 20
expect_json "bench infer" "latency_ms" "$hwnas" bench infer --net elastic-mobile:min --steps 3 --warmup 1
expect_json "bench train" "images_per_s" "$hwnas" bench train --net elastic-mobile:min --batch 8 --steps 1 --warmup 0
expect_json "net" "macs_per_image" "$hwnas" net elastic-mobile:max
"$hwnas" --help | grep -q train && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: --help lists train"; }

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
