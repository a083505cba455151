/** POSIX byte-range locks (fcntl F_SETLK/F_GETLK): advisory claims that die with their process. */
import * as libc from './libc.js';
import { SyscallError } from '../errors.js';

const F_GETLK = 5;
const F_SETLK = 6;
const F_WRLCK = 1;
const F_UNLCK = 2;
const EACCES = 13;
const EAGAIN = 11;

function flock(type: number, start: number, len: number): Uint8Array {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  v.setInt16(0, type, true);
  v.setInt16(2, 0, true); // SEEK_SET
  v.setBigInt64(8, BigInt(start), true);
  v.setBigInt64(16, BigInt(len), true);
  return b;
}

/** Try to write-lock [start, start+len) of `fd`. On conflict, returns the holder's pid. */
export function tryLockRange(fd: number, start: number, len: number): { ok: true } | { ok: false; pid: number } {
  if (libc.fcntl_lock(fd, F_SETLK, flock(F_WRLCK, start, len)) === 0) return { ok: true };
  const errno = libc.errno();
  if (errno !== EACCES && errno !== EAGAIN) throw new SyscallError('fcntl(F_SETLK)', errno);
  const probe = flock(F_WRLCK, start, len);
  libc.fcntl_lock(fd, F_GETLK, probe);
  return { ok: false, pid: new DataView(probe.buffer).getInt32(24, true) };
}

export function unlockRange(fd: number, start: number, len: number): void {
  libc.fcntl_lock(fd, F_SETLK, flock(F_UNLCK, start, len));
}
