#!/usr/bin/env bash
# The main job: build hwnas and train the elastic-mobile max network on Fashion-MNIST, printing
# the test accuracy after every epoch and a final JSON line. The run folder keeps a checkpoint
# per epoch; running this again continues an interrupted run (or reports a finished one).
# EPOCHS (default 10), THREADS (default: all cores), BUILD_DIR, RUN_DIR override the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
run=${RUN_DIR:-runs/elastic-mobile-max}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target hwnas
threads=()
[ -n "${THREADS:-}" ] && threads=(--threads "$THREADS")
exec "$build/hwnas" train --net elastic-mobile:max --dataset fashion-mnist --epochs "${EPOCHS:-10}" \
  --out "$run" --resume "${threads[@]}"
