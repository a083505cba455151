/** Loading an object's BTF into the kernel (BPF_BTF_LOAD), for map and program type information. */
import { kernel } from '../sys/index.js';
import { SyscallError } from '../errors.js';
import * as attr from './attr.js';

/** Returns a BTF fd, or an error description when the kernel refuses the BTF (loading continues without it). */
export function loadBtf(bytes: Uint8Array): { fd: number } | { error: string } {
  const k = kernel();
  const mem = k.alloc(bytes.byteLength);
  mem.bytes.set(bytes);
  try {
    return { fd: k.bpf(attr.Cmd.BTF_LOAD, attr.btfLoad(mem.address, bytes.byteLength, 0n, 0, 0)) };
  } catch (err) {
    if (!(err instanceof SyscallError)) throw err;
    // Ask again with a log to say why.
    const log = k.alloc(64 * 1024);
    try {
      k.bpf(attr.Cmd.BTF_LOAD, attr.btfLoad(mem.address, bytes.byteLength, log.address, 64 * 1024, 1));
    } catch {
      /* expected */
    }
    const text = new TextDecoder().decode(log.bytes.subarray(0, log.bytes.indexOf(0))).trim().split('\n').pop() ?? '';
    k.free(log);
    return { error: `${err.message}${text ? `: ${text}` : ''}` };
  } finally {
    k.free(mem);
  }
}
