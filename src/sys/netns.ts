/**
 * Identity of the calling thread's network namespace that is never reused while the machine is up:
 * the namespace cookie (SO_NETNS_COOKIE, Linux 5.14+), read from a throwaway socket created in it.
 * Inode numbers of namespaces are recycled as soon as a namespace dies, so state keyed by them (an
 * interface index, a marker, a pin) could be mistaken for another namespace's; cookies are not.
 * Older kernels fall back to the inode ("ino<N>").
 */
import * as fs from 'node:fs';
import koffi from 'koffi';
import * as libc from './libc.js';

const lib = koffi.load('libc.so.6');
const getsockopt = lib.func('int getsockopt(int fd, int level, int name, _Out_ uint8_t *val, _Inout_ uint32_t *len)') as (
  fd: number, level: number, name: number, val: Uint8Array, len: Uint32Array) => number;

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const SOL_SOCKET = 1;
const SO_NETNS_COOKIE = 71;

/** "c<cookie>" on Linux 5.14+, else "ino<inode>". */
export function netnsKey(): string {
  const fd = libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    try {
      const val = new Uint8Array(8);
      const len = Uint32Array.of(8);
      if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, val, len) === 0 && len[0] === 8) {
        return `c${new DataView(val.buffer).getBigUint64(0, true)}`;
      }
    } finally {
      libc.close(fd);
    }
  }
  return `ino${fs.statSync('/proc/thread-self/ns/net').ino}`;
}
