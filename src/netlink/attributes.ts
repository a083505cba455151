/**
 * Netlink attributes (struct nlattr: u16 nla_len, u16 nla_type, payload, padding to 4 bytes), written
 * by NlWriter and read by Attrs. Nested attributes carry NLA_F_NESTED unless the caller asks for the
 * legacy encoding (iproute2 still sends TCA_OPTIONS without the flag; the kernel accepts both).
 * Integers are host (little-endian) order unless the attribute says otherwise.
 */
import { NetlinkError } from '../errors.js';
import { NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLA_HDRLEN, NLA_TYPE_MASK } from './constants.js';

export const align4 = (n: number): number => (n + 3) & ~3;

/** A copy of `b[start, end)` as a plain Uint8Array (Buffer.slice would return a shared Buffer view). */
export const copyBytes = (b: Uint8Array, start: number, end: number): Uint8Array => new Uint8Array(b.subarray(start, end));

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** A growable little-endian byte writer with netlink attribute helpers. */
export class NlWriter {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.len;
  }

  private reserve(n: number): number {
    const at = this.len;
    if (at + n > this.buf.byteLength) {
      const next = new Uint8Array(Math.max(this.buf.byteLength * 2, at + n));
      next.set(this.buf.subarray(0, at));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.len += n;
    return at;
  }

  /** Raw bytes (a fixed header such as struct tcmsg), zero-padded to 4 bytes. */
  raw(bytes: Uint8Array): this {
    const at = this.reserve(align4(bytes.byteLength));
    this.buf.set(bytes, at);
    return this;
  }

  /** Patch a u32 at an absolute offset (e.g. nlmsg_len once the message is complete). */
  patchU32(offset: number, value: number): this {
    this.view.setUint32(offset, value >>> 0, true);
    return this;
  }

  /** One attribute: header, payload, zero padding. */
  attr(type: number, payload: Uint8Array = new Uint8Array(0)): this {
    checkType(type);
    const total = NLA_HDRLEN + payload.byteLength;
    if (total > 0xffff) throw new NetlinkError(`netlink attribute ${type} is too long (${payload.byteLength} bytes)`);
    const at = this.reserve(align4(total));
    this.view.setUint16(at, total, true);
    this.view.setUint16(at + 2, type, true);
    this.buf.set(payload, at + NLA_HDRLEN);
    return this;
  }

  u8(type: number, value: number): this {
    return this.attr(type, Uint8Array.of(value & 0xff));
  }

  u16(type: number, value: number): this {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, value, true);
    return this.attr(type, b);
  }

  u32(type: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    return this.attr(type, b);
  }

  u64(type: number, value: bigint): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, value, true);
    return this.attr(type, b);
  }

  /** A NUL-terminated string (NLA_NUL_STRING / NLA_STRING both accept it). */
  string(type: number, value: string): this {
    const s = utf8.encode(value);
    const b = new Uint8Array(s.byteLength + 1);
    b.set(s);
    return this.attr(type, b);
  }

  /** A nested attribute whose payload `fill` writes. NLA_F_NESTED is set unless `flag` is false. */
  nested(type: number, fill: (w: this) => void, flag = true): this {
    checkType(type);
    const at = this.reserve(NLA_HDRLEN);
    fill(this);
    const total = this.len - at;
    if (total > 0xffff) throw new NetlinkError(`nested netlink attribute ${type} is too long (${total} bytes)`);
    this.view.setUint16(at, total, true);
    this.view.setUint16(at + 2, flag ? type | NLA_F_NESTED : type, true);
    return this;
  }

  /** A copy of what has been written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function checkType(type: number): void {
  if (!Number.isInteger(type) || type < 0 || type > NLA_TYPE_MASK) throw new NetlinkError(`invalid netlink attribute type ${type}`);
}

export interface Attr {
  /** The attribute type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits. */
  readonly type: number;
  readonly nested: boolean;
  readonly netByteOrder: boolean;
  readonly payload: Uint8Array;
}

/** Split `bytes` into attributes. Malformed input (bad nla_len, truncation) throws NetlinkError. */
export function parseAttrs(bytes: Uint8Array, what = 'attributes'): Attr[] {
  const out: Attr[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  while (off < bytes.byteLength) {
    if (bytes.byteLength - off < NLA_HDRLEN) {
      throw new NetlinkError(`malformed rtnetlink ${what}: ${bytes.byteLength - off} stray bytes at offset ${off}`);
    }
    const len = view.getUint16(off, true);
    const rawType = view.getUint16(off + 2, true);
    if (len < NLA_HDRLEN || off + len > bytes.byteLength) {
      throw new NetlinkError(`malformed rtnetlink ${what}: attribute at offset ${off} has length ${len} (${bytes.byteLength - off} bytes left)`);
    }
    out.push({
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      netByteOrder: (rawType & NLA_F_NET_BYTEORDER) !== 0,
      payload: bytes.subarray(off + NLA_HDRLEN, off + len),
    });
    // The padding of the last attribute may be missing (the kernel never omits it, but be lenient).
    off = Math.min(off + align4(len), bytes.byteLength);
  }
  return out;
}

/** Attributes by type (the last one wins, as in the kernel's nla_parse), with typed getters. */
export class Attrs {
  readonly list: readonly Attr[];
  private readonly byType = new Map<number, Attr>();
  private readonly what: string;

  constructor(bytes: Uint8Array, what = 'attributes') {
    this.what = what;
    this.list = parseAttrs(bytes, what);
    for (const a of this.list) this.byType.set(a.type, a);
  }

  has(type: number): boolean {
    return this.byType.has(type);
  }

  get(type: number): Uint8Array | undefined {
    return this.byType.get(type)?.payload;
  }

  private sized(type: number, size: number): DataView | undefined {
    const p = this.get(type);
    if (p === undefined) return undefined;
    if (p.byteLength < size) throw new NetlinkError(`malformed rtnetlink ${this.what}: attribute ${type} has ${p.byteLength} bytes, expected ${size}`);
    return new DataView(p.buffer, p.byteOffset, p.byteLength);
  }

  u8(type: number): number | undefined {
    return this.sized(type, 1)?.getUint8(0);
  }

  u16(type: number): number | undefined {
    return this.sized(type, 2)?.getUint16(0, true);
  }

  u32(type: number): number | undefined {
    return this.sized(type, 4)?.getUint32(0, true);
  }

  u64(type: number): bigint | undefined {
    return this.sized(type, 8)?.getBigUint64(0, true);
  }

  /** A string attribute, up to its first NUL. */
  str(type: number): string | undefined {
    const p = this.get(type);
    if (p === undefined) return undefined;
    const nul = p.indexOf(0);
    return utf8Decoder.decode(nul < 0 ? p : p.subarray(0, nul));
  }

  /** The attributes nested in `type` (with or without NLA_F_NESTED). */
  nested(type: number): Attrs | undefined {
    const p = this.get(type);
    return p === undefined ? undefined : new Attrs(p, `${this.what} (nested in ${type})`);
  }
}
