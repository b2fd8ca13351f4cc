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
echo '{"kind": "host-cpu", "runs": 0}' > "$tmp/runs0.json"
echo '{"kind": "host-cpu", "thread": 2}' > "$tmp/typo.json"
# A hand-written lookup table with the stem of elastic-mobile:min but not its first block.
echo '{"kind": "lut", "name": "tiny", "overhead_ms": 0.01, "entries": {"conv_bn_act in=1x28x28 act=relu6 kernel=3 out=16 stride=1": 0.05}}' > "$tmp/lut.json"
# A tiny trained fixed network and supernet for the eval/extract checks.
"$hwnas" train --net elastic-mobile:min --epochs 1 --batch 16 --train-limit 32 --test-limit 16 --out "$tmp/tr" --quiet >/dev/null 2>&1
"$hwnas" supernet train --sampler uniform --epochs 1 --batch 16 --train-limit 32 --test-limit 16 --recal-batches 1 --out "$tmp/sn1" --quiet >/dev/null 2>&1

expect_error "unknown subcommand" "unknown command \"warp\"" "$hwnas" warp
expect_error "unknown network" "not a built-in" "$hwnas" bench infer --net nonsense
expect_error "bad layer" "layer 0" "$hwnas" bench infer --net "$tmp/bad.json"
expect_error "broken JSON" "invalid JSON" "$hwnas" bench infer --net "$tmp/broken.json"
expect_error "bad device" "'gpu' is not a device (expected cpu, cuda or cuda:N)" "$hwnas" bench train --net elastic-mobile:min --device gpu
expect_error "bad autocast" "unknown autocast type 'fp8' (expected off or bf16)" "$hwnas" bench train --net elastic-mobile:min --autocast fp8
expect_error "autocast on the CPU" "--autocast bf16 needs a CUDA --device" "$hwnas" train --net elastic-mobile:min --autocast bf16
expect_error "supernet autocast on the CPU" "supernet train: --autocast bf16 needs a CUDA --device" "$hwnas" supernet train --autocast bf16 --epochs 1
if ! nvidia-smi -L >/dev/null 2>&1; then  # without a GPU, asking for one says why, in one line
  expect_error "no GPU" "cuda:0" "$hwnas" bench train --net elastic-mobile:min --steps 1 --device cuda
fi
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

# Hardware targets, lookup tables and latency predictors (docs/hw-targets.md). fbnet arch 0 by
# its ops: a clean clone need not have the shared archs.csv beside it.
fbnet0="fbnet:k5_e6,skip,k3_e1_g2,skip,k5_e1,skip,skip,skip,k5_e6,k5_e1,k3_e1_g2,k5_e1,k5_e6,k3_e6,k3_e3,k5_e6,k3_e6,k3_e3,k5_e1,k3_e3,k5_e1,k5_e1_g2"
expect_error "measure without a network" "--space and --arch, or --net" "$hwnas" measure --target roofline
expect_error "unknown target kind" 'target "nosuchkind"' "$hwnas" measure --target nosuchkind --net "$fbnet0"
expect_error "unknown target kind lists the kinds" "host-cpu, lut, onnxruntime, roofline" "$hwnas" measure --target nosuchkind --net "$fbnet0"
expect_error "target file with a bad value" "target $tmp/runs0.json: \"runs\" must be" "$hwnas" measure --target "$tmp/runs0.json" --net elastic-mobile:min
expect_error "target file with an unknown key" "target $tmp/typo.json: unknown key \"thread\"" "$hwnas" measure --target "$tmp/typo.json" --net elastic-mobile:min
expect_error "lookup table without an entry" 'no entry for layer 1 of elastic-mobile:min ("mbconv in=16x28x28 act=relu6 expand=2 groups=1 kernel=3 out=24 stride=2")' "$hwnas" measure --target "$tmp/lut.json" --net elastic-mobile:min
expect_error "lut build without --out" "--out" "$hwnas" lut build --space elastic-mobile --target roofline
expect_error "lut eval with a missing table" "$tmp/missing.json" "$hwnas" lut eval --table "$tmp/missing.json" --space elastic-mobile --target roofline
expect_error "predictor eval with a missing predictor" "$tmp/none-predictor.json" "$hwnas" predictor eval "$tmp/none-predictor.json" --data "$tmp/none.csv"
expect_error "unknown command lists predictor" "predictor" "$hwnas" warp
"$hwnas" measure --help | grep -q -- --target && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: measure --help mentions --target"; }
"$hwnas" measure --target roofline --net "$fbnet0" | /usr/bin/python3 -c "import json,sys; c=json.load(sys.stdin)['cost']; assert c['method'] == 'model' and c['latency_ms'] > 0" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: measure on roofline"; }
"$hwnas" measure --target fpga --net "$fbnet0" | /usr/bin/python3 -c "import json,sys; c=json.load(sys.stdin)['cost']; assert c['method'] == 'model' and c['latency_ms'] > 0" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: measure on fpga"; }
"$hwnas" lut build --space elastic-mobile --target roofline --method isolated --quiet --out "$tmp/built.json" >/dev/null \
  && "$hwnas" measure --target "$tmp/built.json" --net elastic-mobile:min | /usr/bin/python3 -c "import json,sys; c=json.load(sys.stdin)['cost']; assert c['method'] == 'table' and c['latency_ms'] > 0" \
  && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: a table written by lut build is a target"; }
expect_error "measure with both --net and --space" "not both" "$hwnas" measure --target roofline --net "$fbnet0" --space fbnet
[ "$("$hwnas" predictor --help | grep -cwE '^ +(fit|eval|predict|lodo)')" -eq 4 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: predictor --help lists fit, eval, predict, lodo"; }

# Search (docs/search.md): the folder contract (resume, refusing a different search) and errors.
srch=(search --supernet "$tmp/sn1/checkpoint.hwnas" --target roofline --val-images 64 --recal-batches 1 --batch 16 --no-test --quiet)
expect_error "search without --out" "--out" "$hwnas" search --supernet "$tmp/sn1/checkpoint.hwnas"
expect_error "search with an unknown algorithm" 'unknown algorithm "evolve" (known:' "$hwnas" "${srch[@]}" --algo evolve --out "$tmp/s0"
expect_error "search without a supernet" "--supernet" "$hwnas" search --target roofline --out "$tmp/s0"
expect_error "search with a bad constraint" 'unknown metric "latency"' "$hwnas" "${srch[@]}" --constraint 'latency<=3' --out "$tmp/s0"
expect_error "search with a bad --set" 'expected KEY=VALUE' "$hwnas" "${srch[@]}" --set population --out "$tmp/s0"
expect_error "search with an unknown option" 'unknown option "popsize"' "$hwnas" "${srch[@]}" --set popsize=3 --out "$tmp/s0"
expect_json "search" "best" "$hwnas" "${srch[@]}" --algo random --budget 3 --constraint 'latency_ms<=100' --out "$tmp/s1"
"$hwnas" "${srch[@]}" --algo random --budget 3 --constraint 'latency_ms<=100' --out "$tmp/s1" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); assert d['replayed'] == 3, d" \
  && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: search run again on its folder replays the log"; }
expect_error "search into a folder of another search" "holds a different search (algo" "$hwnas" "${srch[@]}" --algo evolution --budget 3 --constraint 'latency_ms<=100' --out "$tmp/s1"
expect_error "search into a folder that is not a search" "not a search folder" "$hwnas" "${srch[@]}" --algo random --budget 3 --out "$tmp/tr"
for f in pareto.json best.json search.json search_log.jsonl search_config.json; do
  [ -s "$tmp/s1/$f" ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: search wrote $f"; }
done
# The pipeline's fine-tuning: the chosen subnet extracted, then trained from those weights.
"$hwnas" extract --checkpoint "$tmp/sn1/checkpoint.hwnas" --arch "$tmp/s1/best.json" --recal-batches 0 --out "$tmp/w" >/dev/null
expect_json "train --init from an extracted subnet" "test_accuracy" "$hwnas" train --net "$tmp/w/network.json" --init "$tmp/w/weights.hwnas" --epochs 1 --batch 16 --train-limit 32 --test-limit 16 --quiet
expect_error "train --init with another network's weights" "does not fit" "$hwnas" train --net elastic-mobile:max --init "$tmp/x/weights.hwnas" --epochs 1 --batch 16 --train-limit 32 --test-limit 16 --quiet

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
