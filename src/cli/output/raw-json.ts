/**
 * JSON lines for raw samples, encoded straight into a reused byte buffer:
 *   {"cpu":0,"ts":123,"data":"0a0b..."}   (ts only when the ring records it)
 * No per-event string or object: this is the path that has to keep up with the kernel.
 */
import type { EventBatch } from '../../index.js';

const HEX = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const s = i.toString(16).padStart(2, '0');
  HEX[2 * i] = s.charCodeAt(0);
  HEX[2 * i + 1] = s.charCodeAt(1);
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const CPU = ascii('{"cpu":');
const TS = ascii(',"ts":');
const DATA = ascii(',"data":"');
const END = ascii('"}\n');

export class RawJsonEncoder {
  buf = Buffer.allocUnsafe(1 << 20);
  len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.len + n) size *= 2;
    const b = Buffer.allocUnsafe(size);
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }

  private bytes(b: Uint8Array): void {
    this.buf.set(b, this.len);
    this.len += b.byteLength;
  }

  private uint(n: number): void {
    // Decimal digits of a non-negative safe integer.
    if (n < 10) {
      this.buf[this.len++] = 48 + n;
      return;
    }
    const start = this.len;
    while (n > 0) {
      const q = Math.floor(n / 10);
      this.buf[this.len++] = 48 + (n - q * 10);
      n = q;
    }
    this.buf.subarray(start, this.len).reverse();
  }

  /** Append samples [0, limit) of the batch. */
  encode(batch: EventBatch, limit: number): void {
    for (let i = 0; i < limit; i++) {
      const size = batch.size(i);
      this.ensure(64 + 2 * size);
      this.bytes(CPU);
      this.uint(batch.cpu(i));
      const ts = batch.tsNumber(i);
      if (ts !== undefined && Number.isSafeInteger(ts)) {
        this.bytes(TS);
        this.uint(ts);
      }
      this.bytes(DATA);
      const { buf, offset } = batch.raw(i);
      const out = this.buf;
      let p = this.len;
      for (let j = 0; j < size; j++) {
        const c = buf[offset + j]! << 1;
        out[p++] = HEX[c]!;
        out[p++] = HEX[c + 1]!;
      }
      this.len = p;
      this.bytes(END);
    }
  }

  take(): Buffer {
    const out = this.buf.subarray(0, this.len);
    this.len = 0;
    return out;
  }
}
