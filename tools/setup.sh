#!/usr/bin/env bash
# Installs the Debian 12 packages hwnas builds, tests and runs with. Idempotent: packages
# already installed are left alone, and the package lists are only refreshed when something
# is missing. Works as root (CI) or through sudo.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(
  build-essential cmake ninja-build pkg-config
  libdnnl-dev libeigen3-dev libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev zlib1g-dev
  dataset-fashion-mnist nodejs npm python3-numpy
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

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages are installed"
  exit 0
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
echo "setup: done"
