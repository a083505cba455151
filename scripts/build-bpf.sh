#!/usr/bin/env bash
# Rebuilds bpf/NAME.bpf.o from bpf/NAME.bpf.c. The objects are committed, so users and CI never need this;
# it installs clang and the libbpf headers with apt when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

CLANG=${CLANG:-}
if [[ -z "$CLANG" ]]; then
  for c in clang-16 clang; do command -v "$c" >/dev/null && { CLANG=$c; break; }; done
fi
if [[ -z "$CLANG" || ! -f /usr/include/bpf/bpf_helpers.h ]]; then
  echo "build-bpf: installing clang-16 and libbpf-dev with apt" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-16 llvm-16 libbpf-dev >/dev/null
  CLANG=clang-16
fi
STRIP=$(command -v llvm-strip-16 || command -v llvm-strip || true)
ARCH_INC=/usr/include/$(uname -m)-linux-gnu

for src in bpf/*.bpf.c; do
  obj=${src%.c}.o
  "$CLANG" -g -O2 -target bpf -mcpu=v3 -Wall -Werror -Wno-unused-function \
    -I bpf/include -I "$ARCH_INC" -c "$src" -o "$obj"
  # Keep BTF (.BTF/.BTF.ext), drop DWARF: smaller, reproducible objects.
  [[ -n "$STRIP" ]] && "$STRIP" -g "$obj"
  echo "built $obj ($(stat -c %s "$obj") bytes)"
done
