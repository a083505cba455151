#!/usr/bin/env bash
# Builds the C baselines of the benchmarks (bench/bin/). Installs gcc and libbpf-dev with apt when missing.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v gcc >/dev/null || [[ ! -f /usr/include/bpf/libbpf.h ]]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libbpf-dev libelf-dev zlib1g-dev >/dev/null
fi
mkdir -p bin
gcc -O2 -Wall -o bin/producer c/producer.c
gcc -O2 -Wall -o bin/libbpf_reader c/libbpf_reader.c -lbpf
gcc -O2 -Wall -o bin/udpflood c/udpflood.c
gcc -O2 -Wall -o bin/stall c/stall.c
