/**
 * Bounds-checked little-endian cursor over a byte range, and a NUL-terminated string table.
 * Every failure is a BadObjectError naming the place ("section '.BTF'") and the offset, so malformed
 * input never surfaces as a RangeError.
 */
import { BadObjectError } from '../errors.js';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Formats the standard location prefix: "section '.BTF' at offset 0x1234: message". */
export function badObject(where: string, offset: number, message: string): BadObjectError {
  return new BadObjectError(`${where} at offset 0x${offset.toString(16)}: ${message}`);
}

export class Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Human name of the range for messages, e.g. "section '.BTF'" or "ELF header". */
  readonly where: string;
  /** Offset of bytes[0] in the coordinates used by messages (e.g. within the section). */
  readonly base: number;
  pos = 0;

  constructor(bytes: Uint8Array, where: string, base = 0) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.where = where;
    this.base = base;
  }

  get length(): number {
    return this.bytes.length;
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  /** Throws a BadObjectError located at `offset` (default: the cursor). */
  fail(message: string, offset: number = this.pos): never {
    throw badObject(this.where, this.base + offset, message);
  }

  /** Checks that `n` bytes are readable at `offset` (default: the cursor). */
  need(n: number, what: string, offset: number = this.pos): void {
    if (!Number.isSafeInteger(n) || n < 0 || !Number.isSafeInteger(offset) || offset < 0 || offset > this.bytes.length - n) {
      this.fail(`${what} (${n} bytes) runs past the end (size ${this.bytes.length})`, Math.min(Math.max(offset, 0), this.bytes.length));
    }
  }

  seek(offset: number, what = 'position'): this {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.bytes.length) {
      this.fail(`${what} ${offset} is outside the range (size ${this.bytes.length})`, 0);
    }
    this.pos = offset;
    return this;
  }

  skip(n: number, what = 'data'): this {
    this.need(n, what);
    this.pos += n;
    return this;
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.bytes[this.pos++]!;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i32(what = 'i32'): number {
    this.need(4, what);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(what = 'u64'): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A u64 that must fit in a JS number (offsets, sizes, symbol values). */
  u64n(what = 'u64'): number {
    const at = this.pos;
    const v = this.u64(what);
    if (v > MAX_SAFE) this.fail(`${what} 0x${v.toString(16)} is too large`, at);
    return Number(v);
  }

  /** A view (no copy) of `n` bytes at the cursor. */
  bytesAt(offset: number, n: number, what = 'data'): Uint8Array {
    this.need(n, what, offset);
    return this.bytes.subarray(offset, offset + n);
  }

  take(n: number, what = 'data'): Uint8Array {
    const b = this.bytesAt(this.pos, n, what);
    this.pos += n;
    return b;
  }

  /** A Reader over [offset, offset+n) of this one; messages keep this reader's coordinates. */
  sub(offset: number, n: number, what: string): Reader {
    this.need(n, what, offset);
    return new Reader(this.bytes.subarray(offset, offset + n), this.where, this.base + offset);
  }
}

const utf8 = new TextDecoder('utf-8');

/** A string table (ELF .strtab/.shstrtab, BTF string section): NUL-terminated strings by offset. */
export class StringTable {
  readonly bytes: Uint8Array;
  private readonly where: string;
  private readonly base: number;
  private readonly cache = new Map<number, string>();

  /**
   * @param where  location for messages ("section '.strtab'")
   * @param base   offset of bytes[0] in message coordinates
   */
  constructor(bytes: Uint8Array, where: string, base = 0) {
    this.bytes = bytes;
    this.where = where;
    this.base = base;
  }

  get size(): number {
    return this.bytes.length;
  }

  /** The string at `offset`; `at` is the message location of the reference (defaults to the table). */
  get(offset: number, what = 'string', at?: { where: string; offset: number }): string {
    const cached = this.cache.get(offset);
    if (cached !== undefined) return cached;
    const loc = at ?? { where: this.where, offset: this.base };
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= this.bytes.length) {
      throw badObject(loc.where, loc.offset, `${what} offset ${offset} past the end of the string table (size ${this.bytes.length})`);
    }
    const end = this.bytes.indexOf(0, offset);
    if (end < 0) {
      throw badObject(loc.where, loc.offset, `${what} at string table offset ${offset} is not NUL-terminated (table size ${this.bytes.length})`);
    }
    let s = '';
    let ascii = true;
    for (let i = offset; i < end; i++) {
      if (this.bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      for (let i = offset; i < end; i += 4096) s += String.fromCharCode(...this.bytes.subarray(i, Math.min(end, i + 4096)));
    } else {
      s = utf8.decode(this.bytes.subarray(offset, end));
    }
    this.cache.set(offset, s);
    return s;
  }

  /** Whether `offset` is a valid string start. */
  has(offset: number): boolean {
    return Number.isSafeInteger(offset) && offset >= 0 && offset < this.bytes.length && this.bytes.indexOf(0, offset) >= 0;
  }
}
