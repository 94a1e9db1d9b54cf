#!/usr/bin/env bash
# Idempotent: installs Debian's clang + wasi-libc so C sources build with `clang --target=wasm32-wasi`.
set -euo pipefail
need=()
for pkg in clang lld wasi-libc libclang-rt-14-dev-wasm32; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
clang --version | head -1
