/** A perf ring written from JavaScript: samples (PERF_SAMPLE_RAW, optionally with a time) and lost records. */
import { PERF_RECORD_LOST, PERF_RECORD_SAMPLE } from './perf-records.js';

/**
 * Writes perf records into a ring the way the kernel does, wrapping at its end (independent of the
 * parser): the tests' rings, and the synthetic rings that prime.ts runs the parsers on.
 */
export class PerfRingWriter {
  readonly ring: Uint8Array;
  head: number;

  constructor(size: number, start: number) {
    this.ring = new Uint8Array(size);
    this.head = start;
  }

  private put(bytes: number[]): void {
    for (const b of bytes) {
      this.ring[this.head % this.ring.length] = b;
      this.head++;
    }
  }

  private u16(v: number): number[] {
    return [v & 0xff, (v >> 8) & 0xff];
  }

  private u32(v: number): number[] {
    return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  }

  private u64(v: bigint): number[] {
    const out: number[] = [];
    for (let i = 0n; i < 8n; i++) out.push(Number((v >> (8n * i)) & 0xffn));
    return out;
  }

  sample(payload: number[], ts?: bigint): void {
    const padded = Math.ceil((payload.length + 4) / 8) * 8 - 4;
    const size = 8 + (ts === undefined ? 0 : 8) + 4 + padded;
    this.put([...this.u32(PERF_RECORD_SAMPLE), ...this.u16(0), ...this.u16(size)]);
    if (ts !== undefined) this.put(this.u64(ts));
    this.put(this.u32(padded));
    this.put([...payload, ...new Array(padded - payload.length).fill(0)]);
  }

  lost(n: number): void {
    this.put([...this.u32(PERF_RECORD_LOST), ...this.u16(0), ...this.u16(24)]);
    this.put(this.u64(7n));
    this.put(this.u64(BigInt(n)));
  }

  /** Records by letter: 's' a sample of 4 bytes, 'l' a lost record of 1 sample. */
  write(records: string): this {
    for (const r of records) {
      if (r === 's') this.sample([1, 2, 3, 4]);
      else this.lost(1);
    }
    return this;
  }
}
