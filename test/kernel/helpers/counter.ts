/**
 * A tc program that counts the packets it sees: bpf/sections.bpf.o's `s_tc` adds 1 to hits[0] and returns
 * TC_ACT_OK (also a pass verdict for tcx). `s_tc_ingress` uses hits[1].
 */
import { loadObjectSync, type LoadedObject } from '../../../src/kernel/load.js';
import type { Program } from '../../../src/kernel/program.js';
import { haveTcx, resetTcxProbe } from '../../../src/attach/probe.js';

export interface Counter {
  obj: LoadedObject;
  program: Program;
  /** Packets counted so far under `key` (0 for s_tc). */
  hits(key?: number): bigint;
  close(): void;
}

export function loadCounter(name: 's_tc' | 's_tc_ingress' = 's_tc'): Counter {
  const obj = loadObjectSync(new URL('../../../bpf/sections.bpf.o', import.meta.url).pathname, { programs: [name] });
  const key = name === 's_tc' ? 0 : 1;
  return {
    obj,
    program: obj.program(name),
    hits(k = key) {
      const v = obj.map('hits').lookup(new Uint8Array(new Uint32Array([k]).buffer));
      return v ? new DataView(v.buffer, v.byteOffset).getBigUint64(0, true) : 0n;
    },
    close: () => obj.close(),
  };
}

/** Wait until `cond()` holds (packets are processed in softirq context, a moment after the sender returns). */
export async function eventually(cond: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Whether this kernel has tcx hooks (Linux 6.6+), by the same probe bpfpipe uses, run once. Tests of
 * tcx itself are skipped without them (`{ skip: NO_TCX }`); `auto` then attaches with clsact.
 */
export function kernelHasTcx(): boolean {
  const c = loadCounter();
  try {
    return haveTcx(c.program.fd);
  } finally {
    c.close();
    resetTcxProbe(); // tests that inject faults probe again
  }
}
