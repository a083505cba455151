/**
 * Reading captures: classic pcap (both byte orders, micro- and nanosecond timestamps) and pcapng
 * (sections in either byte order, interfaces with if_tsresol/if_tsoffset, EPB, SPB and the obsolete
 * PB; other blocks are skipped). Malformed input ends in BadInputError naming the file offset — never
 * a RangeError, a hang, or an allocation larger than the data.
 */
import { BadInputError } from '../errors.js';

export interface CaptureRecord {
  /** Capture time, ns since the epoch. */
  timestampNs: bigint;
  data: Uint8Array;
  /** Length on the wire (>= data length). */
  origLen: number;
  /** LINKTYPE_* of the interface (1 Ethernet, 101 raw IP, ...). */
  linkType: number;
  interfaceId: number;
}

const MAX_BLOCK = 64 * 1024 * 1024;

function bad(off: number, what: string): BadInputError {
  return new BadInputError(`bad capture at byte ${off}: ${what}`);
}

export type CaptureFormat = 'pcap' | 'pcapng';

/** Which format `bytes` start with, or undefined. */
export function sniffFormat(bytes: Uint8Array): CaptureFormat | undefined {
  if (bytes.byteLength < 4) return undefined;
  const m = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, false);
  if (m === 0x0a0d0d0a) return 'pcapng';
  if ([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1].includes(m)) return 'pcap';
  return undefined;
}

/** All records of a capture held in memory. */
export function* readCapture(bytes: Uint8Array): Generator<CaptureRecord> {
  const p = new CaptureParser();
  yield* p.push(bytes);
  p.end();
}

/** A capture streamed in chunks (files larger than memory). */
export async function* readCaptureStream(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<CaptureRecord> {
  const p = new CaptureParser();
  for await (const c of chunks) yield* p.push(c);
  p.end();
}

interface Iface {
  linkType: number;
  snaplen: number;
  /** ticks per second */
  resolution: bigint;
  offsetS: bigint;
}

/** Incremental parser: push bytes, get the complete records so far. */
export class CaptureParser {
  private buf: Uint8Array = new Uint8Array(0);
  /** File offset of buf[0]. */
  private base = 0;
  private format: CaptureFormat | undefined;
  private le = true;
  // pcap
  private pcapNs = false;
  private pcapLink = 0;
  private pcapSnap = 0;
  // pcapng
  private ifaces: Iface[] = [];
  private sawSection = false;

  *push(chunk: Uint8Array): Generator<CaptureRecord> {
    if (chunk.byteLength === 0) return;
    if (this.buf.byteLength === 0) this.buf = chunk;
    else {
      const b = new Uint8Array(this.buf.byteLength + chunk.byteLength);
      b.set(this.buf);
      b.set(chunk, this.buf.byteLength);
      this.buf = b;
    }
    for (;;) {
      const r = this.next();
      if (r === undefined) break;
      if (r !== null) yield r;
    }
  }

  /** The input ended: anything left is a truncated record. */
  end(): void {
    if (this.format === undefined) {
      if (this.buf.byteLength === 0) throw bad(0, 'empty file (not a pcap or pcapng capture)');
      throw bad(0, 'not a pcap or pcapng capture (unknown magic)');
    }
    if (this.buf.byteLength > 0) throw bad(this.base, `truncated ${this.format === 'pcap' ? 'record' : 'block'} (${this.buf.byteLength} bytes left at the end)`);
  }

  private consume(n: number): void {
    this.buf = this.buf.subarray(n);
    this.base += n;
  }

  private view(): DataView {
    return new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** A record, null for a block that carried none, undefined when more bytes are needed. */
  private next(): CaptureRecord | null | undefined {
    if (this.format === undefined) {
      if (this.buf.byteLength < 4) return undefined;
      const f = sniffFormat(this.buf);
      if (!f) throw bad(0, 'not a pcap or pcapng capture (unknown magic)');
      this.format = f;
    }
    return this.format === 'pcap' ? this.nextPcap() : this.nextPcapng();
  }

  private nextPcap(): CaptureRecord | null | undefined {
    const v = this.view();
    if (this.base === 0) {
      if (this.buf.byteLength < 24) return undefined;
      const m = v.getUint32(0, false);
      this.le = m === 0xd4c3b2a1 || m === 0x4d3cb2a1;
      this.pcapNs = m === 0xa1b23c4d || m === 0x4d3cb2a1;
      const major = v.getUint16(4, this.le);
      if (major !== 2) throw bad(4, `unsupported pcap version ${major}`);
      this.pcapSnap = v.getUint32(16, this.le);
      this.pcapLink = v.getUint32(20, this.le) & 0x0fffffff;
      this.consume(24);
      return null;
    }
    if (this.buf.byteLength < 16) return undefined;
    const sec = v.getUint32(0, this.le);
    const frac = v.getUint32(4, this.le);
    const incl = v.getUint32(8, this.le);
    const orig = v.getUint32(12, this.le);
    if (incl > MAX_BLOCK) throw bad(this.base + 8, `record of ${incl} bytes is larger than any packet`);
    if (this.pcapSnap > 0 && incl > Math.max(this.pcapSnap, 65535)) throw bad(this.base + 8, `record of ${incl} bytes exceeds the snapshot length ${this.pcapSnap}`);
    if (this.pcapNs ? frac >= 1e9 : frac >= 1e6) throw bad(this.base + 4, `sub-second timestamp ${frac} out of range`);
    if (this.buf.byteLength < 16 + incl) return undefined;
    const data = this.buf.slice(16, 16 + incl);
    this.consume(16 + incl);
    return {
      timestampNs: BigInt(sec) * 1_000_000_000n + BigInt(frac) * (this.pcapNs ? 1n : 1000n),
      data,
      origLen: Math.max(orig, incl),
      linkType: this.pcapLink,
      interfaceId: 0,
    };
  }

  private nextPcapng(): CaptureRecord | null | undefined {
    if (this.buf.byteLength < 12) return undefined;
    let v = this.view();
    const type = v.getUint32(0, this.le);
    if (type === 0x0a0d0d0a) {
      // A section header sets the byte order of everything up to the next one.
      const m = v.getUint32(8, true);
      if (m === 0x1a2b3c4d) this.le = true;
      else if (m === 0x4d3c2b1a) this.le = false;
      else throw bad(this.base + 8, 'section header with a bad byte-order magic');
      v = this.view();
    } else if (!this.sawSection) {
      throw bad(this.base, 'pcapng capture does not start with a section header');
    }
    const total = v.getUint32(4, this.le);
    if (total < 12 || total % 4 !== 0) throw bad(this.base + 4, `block length ${total} is not a multiple of 4 of at least 12`);
    if (total > MAX_BLOCK) throw bad(this.base + 4, `block length ${total} is larger than any block`);
    if (this.buf.byteLength < total) return undefined;
    if (v.getUint32(total - 4, this.le) !== total) throw bad(this.base + total - 4, `block trailer length ${v.getUint32(total - 4, this.le)} differs from its header length ${total}`);
    const start = this.base;
    const body = this.buf.subarray(8, total - 4);
    const bv = new DataView(body.buffer, body.byteOffset, body.byteLength);
    let rec: CaptureRecord | null = null;
    switch (type) {
      case 0x0a0d0d0a:
        if (body.byteLength < 16) throw bad(start, 'section header block too short');
        if (bv.getUint16(4, this.le) !== 1) throw bad(start + 12, `unsupported pcapng major version ${bv.getUint16(4, this.le)}`);
        this.sawSection = true;
        this.ifaces = [];
        break;
      case 1: {
        if (body.byteLength < 8) throw bad(start, 'interface description block too short');
        const iface: Iface = { linkType: bv.getUint16(0, this.le), snaplen: bv.getUint32(4, this.le), resolution: 1_000_000n, offsetS: 0n };
        this.options(body, 8, start + 16, (code, val, at) => {
          if (code === 9 && val.byteLength >= 1) {
            const r = val[0]!;
            const exp = r & 0x7f;
            if ((r & 0x80 ? exp > 62 : exp > 18)) throw bad(at, `if_tsresol ${r} out of range`);
            iface.resolution = r & 0x80 ? 1n << BigInt(exp) : 10n ** BigInt(exp);
          } else if (code === 14 && val.byteLength >= 8) {
            iface.offsetS = new DataView(val.buffer, val.byteOffset, 8).getBigInt64(0, this.le);
          }
        });
        this.ifaces.push(iface);
        break;
      }
      case 6: {
        if (body.byteLength < 20) throw bad(start, 'enhanced packet block too short');
        const id = bv.getUint32(0, this.le);
        const ts = (BigInt(bv.getUint32(4, this.le)) << 32n) | BigInt(bv.getUint32(8, this.le));
        const cap = bv.getUint32(12, this.le);
        const orig = bv.getUint32(16, this.le);
        if (cap > body.byteLength - 20) throw bad(start + 20, `captured length ${cap} exceeds the block`);
        rec = this.record(id, ts, body.slice(20, 20 + cap), orig, start);
        break;
      }
      case 3: {
        if (body.byteLength < 4) throw bad(start, 'simple packet block too short');
        const iface = this.ifaces[0];
        if (!iface) throw bad(start, 'simple packet block before any interface');
        const orig = bv.getUint32(0, this.le);
        const cap = Math.min(orig, body.byteLength - 4, iface.snaplen || Infinity);
        rec = { timestampNs: 0n, data: body.slice(4, 4 + cap), origLen: orig, linkType: iface.linkType, interfaceId: 0 };
        break;
      }
      case 2: {
        if (body.byteLength < 20) throw bad(start, 'packet block too short');
        const id = bv.getUint16(0, this.le);
        const ts = (BigInt(bv.getUint32(4, this.le)) << 32n) | BigInt(bv.getUint32(8, this.le));
        const cap = bv.getUint32(12, this.le);
        const orig = bv.getUint32(16, this.le);
        if (cap > body.byteLength - 20) throw bad(start + 20, `captured length ${cap} exceeds the block`);
        rec = this.record(id, ts, body.slice(20, 20 + cap), orig, start);
        break;
      }
      default:
        break; // other blocks (statistics, name resolution, custom...) carry no packets
    }
    this.consume(total);
    return rec;
  }

  private record(id: number, ts: bigint, data: Uint8Array, orig: number, at: number): CaptureRecord {
    const iface = this.ifaces[id];
    if (!iface) throw bad(at + 8, `packet for interface ${id}, but the section has ${this.ifaces.length}`);
    if (iface.snaplen > 0 && data.byteLength > Math.max(iface.snaplen, 262144)) throw bad(at + 20, `captured length ${data.byteLength} exceeds the snapshot length ${iface.snaplen}`);
    const ns = (ts * 1_000_000_000n) / iface.resolution + iface.offsetS * 1_000_000_000n;
    return { timestampNs: ns, data, origLen: Math.max(orig, data.byteLength), linkType: iface.linkType, interfaceId: id };
  }

  private options(body: Uint8Array, off: number, fileOff: number, each: (code: number, value: Uint8Array, at: number) => void): void {
    const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
    for (let guard = 0; off + 4 <= body.byteLength && guard < 10000; guard++) {
      const code = v.getUint16(off, this.le);
      const len = v.getUint16(off + 2, this.le);
      if (code === 0) return;
      if (off + 4 + len > body.byteLength) throw bad(fileOff + off, `option ${code} of ${len} bytes runs past its block`);
      each(code, body.subarray(off + 4, off + 4 + len), fileOff + off);
      off += 4 + ((len + 3) & ~3);
    }
  }
}
