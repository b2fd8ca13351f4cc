#!/usr/bin/env bash
# Configures, builds (benchmarks included, so they at least compile) and runs the test suite.
# BUILD_DIR overrides the build folder.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
set -x
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHWNAS_BUILD_BENCH=ON
cmake --build "$build" -j2
ctest --test-dir "$build" --output-on-failure -j2
