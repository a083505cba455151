/**
 * A pcapng writer (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-03.html): one section
 * header, one interface description per interface (Ethernet by default, nanosecond timestamps), one
 * Enhanced Packet Block per packet with an optional comment (bpfpipe puts the decoded event there)
 * and direction flags. Output goes to a caller-given sink; back-pressure is the sink's promise.
 *
 * Written here rather than taken from npm: the maintained packages there only read captures or need
 * libpcap; the format is small and is the product's output.
 */
const SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;

export type ByteSinkFn = (chunk: Uint8Array) => void | Promise<void>;

interface Option {
  code: number;
  value: Uint8Array;
}

const enc = new TextEncoder();
const pad4 = (n: number) => (n + 3) & ~3;

function optionsLength(opts: Option[]): number {
  if (opts.length === 0) return 0;
  return opts.reduce((a, o) => a + 4 + pad4(o.value.byteLength), 0) + 4;
}

function writeOptions(v: DataView, bytes: Uint8Array, off: number, opts: Option[]): number {
  if (opts.length === 0) return off;
  for (const o of opts) {
    v.setUint16(off, o.code, true);
    v.setUint16(off + 2, o.value.byteLength, true);
    bytes.set(o.value, off + 4);
    off += 4 + pad4(o.value.byteLength);
  }
  return off + 4; // opt_endofopt (zeros)
}

function block(type: number, body: number, fill: (v: DataView, bytes: Uint8Array, off: number) => number): Uint8Array {
  const total = 12 + body;
  const bytes = new Uint8Array(total);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, total, true);
  fill(v, bytes, 8);
  v.setUint32(total - 4, total, true);
  return bytes;
}

export interface InterfaceOptions {
  name?: string;
  linkType?: number;
  description?: string;
}

export interface PacketOptions {
  interfaceId?: number;
  timestampNs: bigint;
  /** Captured bytes (may be shorter than the packet). */
  data: Uint8Array;
  /** Length of the packet on the wire (default: data length). */
  originalLength?: number;
  comment?: string;
  direction?: 'inbound' | 'outbound';
}

export class PcapngWriter {
  private interfaces = 0;

  constructor(private readonly sink: ByteSinkFn, appName = 'bpfpipe') {
    const opts: Option[] = [{ code: 4 /* shb_userappl */, value: enc.encode(appName) }];
    const shb = block(SHB, 16 + optionsLength(opts), (v, bytes, off) => {
      v.setUint32(off, BYTE_ORDER_MAGIC, true);
      v.setUint16(off + 4, 1, true); // major
      v.setUint16(off + 6, 0, true); // minor
      v.setBigInt64(off + 8, -1n, true); // section length: unknown
      return writeOptions(v, bytes, off + 16, opts);
    });
    this.pending = [shb];
  }

  private pending: Uint8Array[];

  /** Add an interface; returns its id for packets. */
  addInterface(o: InterfaceOptions = {}): number {
    const opts: Option[] = [];
    if (o.name) opts.push({ code: 2 /* if_name */, value: enc.encode(o.name) });
    if (o.description) opts.push({ code: 3 /* if_description */, value: enc.encode(o.description) });
    opts.push({ code: 9 /* if_tsresol */, value: new Uint8Array([9]) }); // 10^-9 s
    this.pending.push(
      block(IDB, 8 + optionsLength(opts), (v, bytes, off) => {
        v.setUint16(off, o.linkType ?? LINKTYPE_ETHERNET, true);
        v.setUint16(off + 2, 0, true);
        v.setUint32(off + 4, 0, true); // snaplen: no limit
        return writeOptions(v, bytes, off + 8, opts);
      }),
    );
    return this.interfaces++;
  }

  /** Encode one Enhanced Packet Block (the interface must exist). */
  packetBlock(p: PacketOptions): Uint8Array {
    const id = p.interfaceId ?? 0;
    if (id >= this.interfaces) throw new RangeError(`pcapng: interface ${id} was not added`);
    const opts: Option[] = [];
    if (p.comment) opts.push({ code: 1 /* opt_comment */, value: enc.encode(p.comment) });
    if (p.direction) {
      const f = new Uint8Array(4);
      new DataView(f.buffer).setUint32(0, p.direction === 'inbound' ? 1 : 2, true);
      opts.push({ code: 2 /* epb_flags */, value: f });
    }
    const cap = p.data.byteLength;
    return block(EPB, 20 + pad4(cap) + optionsLength(opts), (v, bytes, off) => {
      v.setUint32(off, id, true);
      v.setUint32(off + 4, Number(p.timestampNs >> 32n), true);
      v.setUint32(off + 8, Number(p.timestampNs & 0xffffffffn), true);
      v.setUint32(off + 12, cap, true);
      v.setUint32(off + 16, Math.max(cap, p.originalLength ?? cap), true);
      bytes.set(p.data, off + 20);
      return writeOptions(v, bytes, off + 20 + pad4(cap), opts);
    });
  }

  /** Queue a packet; call flush() to hand the bytes to the sink. */
  writePacket(p: PacketOptions): void {
    this.pending.push(this.packetBlock(p));
  }

  /** Hand queued blocks to the sink in one chunk (waits for its back-pressure). */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const parts = this.pending;
    this.pending = [];
    const size = parts.reduce((a, p) => a + p.byteLength, 0);
    const chunk = new Uint8Array(size);
    let o = 0;
    for (const p of parts) {
      chunk.set(p, o);
      o += p.byteLength;
    }
    await this.sink(chunk);
  }
}
