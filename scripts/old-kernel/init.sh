#!/bin/sh
# /init of the old-kernel guest (busybox sh, PID 1), built into the initramfs by run.sh.
# Loads the modules listed in /modules.list (virtio, 9p, and what the tests need), mounts the host's
# root read-only over virtio-9p at /newroot with fresh proc, sys, bpffs, dev, tmp and run, mounts the
# writable results share at /newroot/run/bpfpipe-results, runs the repository's guest.sh in a chroot
# there, and powers off. Never returns: a kernel panic (panic=-1, -no-reboot) also ends qemu.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1

say() { echo "[init] $*"; }
die() {
  say "FATAL: $*"
  [ -d /newroot/run/bpfpipe-results ] && echo "init: $*" >/newroot/run/bpfpipe-results/init-error
  sync
  poweroff -f
  sleep 5
}

# bpfpipe.repo=/path on the kernel command line: the repository, as seen on the host.
REPO=
for a in $(cat /proc/cmdline); do
  case "$a" in bpfpipe.repo=*) REPO=${a#bpfpipe.repo=} ;; esac
done
[ -n "$REPO" ] || die "no bpfpipe.repo= on the kernel command line"

while read -r m; do
  [ -n "$m" ] || continue
  insmod "/lib/modules/$m" || say "insmod $m failed"
done </modules.list

R=/newroot
mkdir -p $R
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot $R || die "cannot mount the host root (9p tag hostroot)"
mount -t proc proc $R/proc || die "proc"
mount -t sysfs sysfs $R/sys || die "sysfs"
mount -t bpf bpf $R/sys/fs/bpf || die "bpffs"
mount -t tracefs tracefs $R/sys/kernel/tracing 2>/dev/null
mount -t devtmpfs devtmpfs $R/dev || die "devtmpfs"
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts devpts $R/dev/pts
mount -t tmpfs -o mode=1777 shm $R/dev/shm
[ -e $R/dev/fd ] || ln -s /proc/self/fd $R/dev/fd
[ -e $R/dev/stdin ] || ln -s /proc/self/fd/0 $R/dev/stdin
[ -e $R/dev/stdout ] || ln -s /proc/self/fd/1 $R/dev/stdout
[ -e $R/dev/stderr ] || ln -s /proc/self/fd/2 $R/dev/stderr
mount -t tmpfs -o mode=1777 tmp $R/tmp || die "tmp"
mount -t tmpfs -o mode=755 run $R/run || die "run"
mkdir -p $R/run/bpfpipe-results
mount -t 9p -o trans=virtio,version=9p2000.L,rw,msize=512000 results $R/run/bpfpipe-results || die "cannot mount the results share (9p tag results)"

say "kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB; running $REPO/scripts/old-kernel/guest.sh"
chroot $R /bin/bash "$REPO/scripts/old-kernel/guest.sh" "$REPO"
say "guest.sh exited with $?"
sync
umount $R/run/bpfpipe-results 2>/dev/null
poweroff -f
sleep 5
