#!/usr/bin/env bash
# Installs the Debian 12 packages hwnas builds, tests and runs with, then onnxruntime-node (the
# "onnxruntime" target's runtime) through npm. Idempotent: packages already installed are left
# alone, and the package lists are only refreshed when something is missing. Works as root (CI)
# or through sudo.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# ocl-icd-opencl-dev: Debian's oneDNN is built with the OpenCL GPU runtime, so its CMake config
# asks for OpenCL; the package is only a Recommends of libdnnl-dev, which --no-install-recommends
# skips.
packages=(
  build-essential cmake ninja-build pkg-config
  libdnnl-dev ocl-icd-opencl-dev libeigen3-dev libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev zlib1g-dev
  libonnx-dev libprotobuf-dev libglpk-dev libnlopt-dev
  dataset-fashion-mnist nodejs npm python3-numpy
  chromium
)

# Names that installed packages provide: NodeSource's nodejs provides (and conflicts with) npm.
provided=" $(dpkg-query -W -f='${Status}|${Provides}\n' 2>/dev/null | grep ' installed|' | cut -d'|' -f2 |
  tr ',' '\n' | sed 's/(.*)//; s/[[:space:]]//g' | sort -u | tr '\n' ' ' || true) "

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  if [[ "$status" == *" installed" ]]; then
    echo "setup: $p is installed"
  elif [[ "$provided" == *" $p "* ]]; then
    echo "setup: $p is provided by an installed package"
  else
    missing+=("$p")
  fi
done

install_apt_packages() {
  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "setup: all ${#packages[@]} packages are installed"
    return
  fi
  if [[ $(id -u) -eq 0 ]]; then
    as_root=(env DEBIAN_FRONTEND=noninteractive)
  elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo env DEBIAN_FRONTEND=noninteractive)
  else
    echo "setup: missing ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  echo "+ apt-get update"
  "${as_root[@]}" apt-get update
  echo "+ apt-get install -y --no-install-recommends ${missing[*]}"
  "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
}

# onnxruntime-node, which tools/ort_run.js loads, in a fixed per-user location that
# hw_targets/onnxruntime_runner.cpp looks in by default (HWNAS_NODE_DIR overrides both). Its
# prebuilt CPU binaries ship in the package; --ignore-scripts skips the postinstall, which only
# fetches optional GPU binaries. The version is pinned so measurements stay comparable across
# machines (HWNAS_ORT_NODE_VERSION overrides it).
install_onnxruntime_node() {
  local dir="${HWNAS_NODE_DIR:-$HOME/.cache/hwnas/node}"
  local version="${HWNAS_ORT_NODE_VERSION:-1.30.0}"
  local pkg="$dir/node_modules/onnxruntime-node/package.json"
  if [[ -f "$pkg" ]]; then
    echo "setup: onnxruntime-node $(node -p "require('$pkg').version" 2>/dev/null || echo '?') is installed in $dir"
    return
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm is missing, cannot install onnxruntime-node into $dir" >&2
    exit 1
  fi
  mkdir -p "$dir"
  echo "+ npm install --ignore-scripts --no-audit --no-fund --prefix $dir onnxruntime-node@$version"
  npm install --ignore-scripts --no-audit --no-fund --prefix "$dir" "onnxruntime-node@$version"
  if ! node -e "require('$dir/node_modules/onnxruntime-node')" >/dev/null; then
    echo "setup: onnxruntime-node was installed into $dir but does not load in node $(node --version)" >&2
    exit 1
  fi
}

install_apt_packages
install_onnxruntime_node
echo "setup: done"
