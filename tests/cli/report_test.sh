#!/usr/bin/env bash
# `hwnas report`: a tiny supernet, a tiny search on it, the report of that search folder. Checks
# that the HTML is self-contained (no http(s):// resources, no <script src>), holds the expected
# SVG charts, and that headless Chromium loads, parses and renders it. Exits 77 (ctest SKIP) when
# chromium is not installed (tools/setup.sh installs it).
# Usage: report_test.sh PATH/TO/hwnas
set -uo pipefail
hwnas=$1
chromium_bin=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium_bin" ]; then
  echo "SKIP: chromium not installed (tools/setup.sh installs it)"
  exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
pass=0
fail=0
check() {  # description, command...
  local what=$1; shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $what"; fi
}
run() {  # stops the test when a step that later checks need fails
  if ! "$@" >"$T/step.log" 2>&1; then echo "FAIL: $*"; cat "$T/step.log"; exit 1; fi
}

run "$hwnas" supernet train --sampler uniform --epochs 1 --batch 16 --train-limit 32 --test-limit 16 \
  --recal-batches 1 --out "$T/sn" --quiet
run "$hwnas" search --supernet "$T/sn/checkpoint.hwnas" --target roofline --val-images 64 --recal-batches 1 \
  --batch 16 --no-test --quiet --algo random --budget 4 --constraint 'latency_ms<=100' --out "$T/s"
run "$hwnas" report "$T/s"
html=$T/s/report.html
check "report.html written" test -s "$html"
check "no http(s):// references" bash -c "! grep -qiE 'https?://' '$html'"
check "no <script src" bash -c "! grep -qiE '<script[^>]*src' '$html'"
check "no <link> to stylesheets" bash -c "! grep -qiE '<link[^>]*href' '$html'"
for id in pareto-chart arch-diagram latency-bars curve-loss-chart curve-accuracy-chart; do
  check "svg #$id" grep -q "<svg id=\"$id\"" "$html"
done
check "pareto points" grep -q '<circle class="pt-all"' "$html"
check "pareto front" grep -q '<circle class="pt-front"' "$html"
check "chosen subnet marked" grep -q '<circle class="pt-best"' "$html"
# The bound is drawn as a line, or named when it lies far outside the points (100 ms here).
check "constraint line or note" grep -qE '<line class="bound"|Constraint latency_ms&lt;=100 lies outside' "$html"
check "arch layer boxes" grep -q '<rect class="layer"' "$html"
check "latency bars" grep -q '<rect class="bar"' "$html"
check "loss curve (one epoch: one point)" grep -q '<circle class="curve-loss"' "$html"

# --out, --no-latency, a training folder, and a folder that is neither.
run "$hwnas" report "$T/s" --out "$T/other.html" --no-latency
check "--out and --no-latency" grep -q 'Skipped (--no-latency)' "$T/other.html"
run "$hwnas" report "$T/sn"
check "training folder report" grep -q '<svg id="curve-loss-chart"' "$T/sn/report.html"
check "training folder has no pareto chart" bash -c "! grep -q 'pareto-chart' '$T/sn/report.html'"
mkdir -p "$T/empty"
err=$("$hwnas" report "$T/empty" 2>&1 >/dev/null); rc=$?
check "bad folder is an error naming it" bash -c "[ $rc -ne 0 ] && grep -qF '$T/empty is neither a search folder' <<<'$err'"

# Headless Chromium: renders a screenshot and parses the page (the DOM holds the charts).
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --user-data-dir="$T/profile")
timeout 120 "$chromium_bin" "${flags[@]}" --screenshot="$T/report.png" --window-size=1200,2000 "file://$html" \
  >"$T/shot.log" 2>&1
check "screenshot written" test -f "$T/report.png"
size=$(stat -c %s "$T/report.png" 2>/dev/null || echo 0)
check "screenshot non-trivial ($size bytes)" test "$size" -gt 20000
timeout 120 "$chromium_bin" "${flags[@]}" --dump-dom "file://$html" >"$T/dom.html" 2>"$T/dom.log"
for id in pareto-chart arch-diagram latency-bars curve-loss-chart; do
  check "dom has #$id" grep -q "id=\"$id\"" "$T/dom.html"
done
check "dom has circles" grep -q '<circle' "$T/dom.html"

echo "report_test: $pass passed, $fail failed"
[ $fail -eq 0 ]
