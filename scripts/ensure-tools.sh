#!/usr/bin/env bash
# Installs (with apt, as root) the system tools the kernel and CLI tests use when they are missing,
# and mounts bpffs when it is not mounted. A fresh machine has nothing else.
set -euo pipefail
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v tc >/dev/null || need+=(iproute2)
command -v bpftool >/dev/null || need+=(bpftool)
command -v tshark >/dev/null || need+=(tshark)
command -v text2pcap >/dev/null || need+=(tshark)
command -v nsenter >/dev/null || need+=(util-linux)
command -v setpriv >/dev/null || need+=(util-linux)
command -v capsh >/dev/null || need+=(libcap2-bin)
# The sink tests (test/sinks) run the real services.
command -v nats-server >/dev/null || need+=(nats-server)
command -v prometheus >/dev/null || need+=(prometheus)
[ -x /usr/bin/chromium ] || need+=(chromium)
if ((${#need[@]})); then
  echo "test setup: installing ${need[*]} with apt" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # tshark asks whether non-root users may capture: the default (no) is fine.
  apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
fi
if ! mount | grep -q ' /sys/fs/bpf type bpf '; then
  mkdir -p /sys/fs/bpf
  mount -t bpf bpf /sys/fs/bpf
fi
