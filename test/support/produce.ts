/** Producing events in tests: run a loaded tc program with BPF_PROG_TEST_RUN on a chosen CPU. */
import { setAffinity, onlineCpus, type Program, type LoadedObject } from '../../src/index.js';

/** Run `prog` `n` times on `cpu` (the calling thread is pinned there meanwhile). */
export function runOn(cpu: number, prog: Program, n: number, data: Uint8Array = new Uint8Array(64), chunk = 100_000): void {
  setAffinity([cpu]);
  try {
    for (let done = 0; done < n; ) {
      const r = Math.min(chunk, n - done);
      prog.testRun({ data, repeat: r });
      done += r;
    }
  } finally {
    setAffinity(onlineCpus());
  }
}

/** Sum of a per-CPU u64 counter at index `key`. */
export function counter(obj: LoadedObject, map: string, key: number): number {
  const k = new Uint8Array(new Uint32Array([key]).buffer);
  const values = obj.map(map).lookupPerCpu(k) ?? [];
  return Number(values.reduce((a, v) => a + new DataView(v.buffer, v.byteOffset).getBigUint64(0, true), 0n));
}

/** A 64-byte Ethernet/IPv4/UDP packet (198.18.0.1 → 198.18.0.2) to `dport`. */
export function udpPacket(dport: number, sport = 40000, size = 64): Uint8Array {
  const p = new Uint8Array(size);
  const v = new DataView(p.buffer);
  p.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2], 0);
  v.setUint16(12, 0x0800);
  p[14] = 0x45;
  v.setUint16(16, size - 14);
  p[22] = 64;
  p[23] = 17;
  p.set([198, 18, 0, 1, 198, 18, 0, 2], 26);
  v.setUint16(34, sport);
  v.setUint16(36, dport);
  v.setUint16(38, size - 34);
  for (let i = 42; i < size; i++) p[i] = i & 0xff;
  return p;
}
