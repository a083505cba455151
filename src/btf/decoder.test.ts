import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadObjectError, UsageError } from '../errors.js';
import { ElfFile } from '../elf/elf-file.js';
import { Btf } from './btf.js';
import { compileDecoder } from './decoder.js';
import { BtfBuilder } from './test-support/btf-builder.js';
import { bpftoolBtf, readObject } from '../elf/test-support/fixtures.js';

function objectBtf(name: string): Btf {
  return Btf.parse(ElfFile.parse(readObject(name)).section('.BTF')!.data);
}

/** Little-endian fixture writer, independent of the decoder. */
class Fixture {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  constructor(size: number, readonly base = 0) {
    this.bytes = new Uint8Array(size + base);
    this.view = new DataView(this.bytes.buffer);
  }
  u8(o: number, x: number) { this.view.setUint8(this.base + o, x); return this; }
  i8(o: number, x: number) { this.view.setInt8(this.base + o, x); return this; }
  u16(o: number, x: number) { this.view.setUint16(this.base + o, x, true); return this; }
  i16(o: number, x: number) { this.view.setInt16(this.base + o, x, true); return this; }
  u32(o: number, x: number) { this.view.setUint32(this.base + o, x, true); return this; }
  i32(o: number, x: number) { this.view.setInt32(this.base + o, x, true); return this; }
  u64(o: number, x: bigint) { this.view.setBigUint64(this.base + o, x, true); return this; }
  i64(o: number, x: bigint) { this.view.setBigInt64(this.base + o, x, true); return this; }
  f32(o: number, x: number) { this.view.setFloat32(this.base + o, x, true); return this; }
  f64(o: number, x: number) { this.view.setFloat64(this.base + o, x, true); return this; }
  str(o: number, s: string) { this.bytes.set(new TextEncoder().encode(s), this.base + o); return this; }
  /** Writes `n` bits of `x` (two's complement) at bit offset `bit`, LSB first (little-endian bitfields). */
  bits(bit: number, n: number, x: bigint) {
    for (let i = 0; i < n; i++) {
      const b = this.base * 8 + bit + i;
      const set = (BigInt.asUintN(n, x) >> BigInt(i)) & 1n;
      if (set) this.bytes[b >> 3]! |= 1 << (b & 7);
      else this.bytes[b >> 3]! &= ~(1 << (b & 7));
    }
    return this;
  }
}

/**
 * struct sample from bpf/decode_types.bpf.c, laid out by the C rules (offsets checked against
 * bpftool below) and filled with the initializers of emit_sample().
 */
const sampleLayout = {
  u8v: 0, s8v: 8, u16v: 16, s16v: 32, u32v: 64, s32v: 96, u64v: 128, s64v: 192, small64: 256,
  flag_a: 320, flag_b: 321, field_c: 324, signed_d: 336, color: 352, name: 384, ports: 480,
  where: 544, path: 608, u: 736, ok: 768, _pad: 776,
};

function sampleBytes(base = 0): Fixture {
  const f = new Fixture(104, base);
  f.u8(0, 250).i8(1, -5).u16(2, 65000).i16(4, -30000).u32(8, 4000000000).i32(12, -2000000000);
  f.u64(16, 0xfedcba9876543210n).i64(24, -9000000000000000000n).u64(32, 123456789n);
  f.bits(320, 1, 1n).bits(321, 3, 5n).bits(324, 12, 0xabcn).bits(336, 8, -100n);
  f.u32(44, 0x10); // BLUE
  f.str(48, 'hello\0');
  f.u16(60, 80).u16(62, 443).u16(64, 8080).u16(66, 65535);
  f.i32(68, -1).i32(72, 2);
  f.i32(76, 3).i32(80, -4).i32(84, 5).i32(88, -6);
  f.u32(92, 0x04030201);
  f.u8(96, 1);
  return f;
}

const sampleExpected = {
  u8v: 250, s8v: -5, u16v: 65000, s16v: -30000, u32v: 4000000000, s32v: -2000000000,
  u64v: 0xfedcba9876543210n, s64v: -9000000000000000000n, small64: 123456789n,
  flag_a: 1, flag_b: 5, field_c: 0xabc, signed_d: -100, color: 'BLUE', name: 'hello',
  ports: [80, 443, 8080, 65535], where: { x: -1, y: 2 }, path: [{ x: 3, y: -4 }, { x: 5, y: -6 }],
  u: { as_u32: 0x04030201, as_bytes: [1, 2, 3, 4] }, ok: true, _pad: [0, 0, 0],
};

describe('compileDecoder: struct sample (bpf/decode_types.bpf.c)', () => {
  const btf = objectBtf('decode_types');
  const id = btf.findByName('sample', 'struct')!.id;
  const dec = compileDecoder(btf, id);

  it('the fixture layout is the one bpftool reports', () => {
    const t = bpftoolBtf('decode_types').find((x) => x.kind === 'STRUCT' && x.name === 'sample')!;
    const members = t.members as { name: string; bits_offset: number }[];
    assert.deepEqual(Object.fromEntries(members.map((m) => [m.name, m.bits_offset])), sampleLayout);
    assert.equal(t.size, 104);
    assert.equal(dec.size, 104);
  });

  it('decodes every field of the C initializers', () => {
    assert.deepEqual(dec.decode(new DataView(sampleBytes().bytes.buffer)), sampleExpected);
  });

  it('decodes at an offset, in a view with a byteOffset, and caches the decoder', () => {
    const f = sampleBytes(24);
    assert.deepEqual(dec.decode(new DataView(f.bytes.buffer), 24), sampleExpected);
    const sub = new DataView(f.bytes.buffer, 16, f.bytes.length - 16);
    assert.deepEqual(dec.decode(sub, 8), sampleExpected);
    assert.equal(compileDecoder(btf, id), dec);
  });

  it('unknown enum values stay numbers; strings without NUL and UTF-8 decode', () => {
    const f = sampleBytes();
    f.u32(44, 7).str(48, 'abcdefghijkl');
    let got = dec.decode(new DataView(f.bytes.buffer)) as typeof sampleExpected;
    assert.equal(got.color, 7);
    assert.equal(got.name, 'abcdefghijkl');
    f.str(48, 'h\u00e9\u20ac\0zzzzzz');
    got = dec.decode(new DataView(f.bytes.buffer)) as typeof sampleExpected;
    assert.equal(got.name, 'h\u00e9\u20ac');
    f.u8(96, 2).str(48, '\0');
    got = dec.decode(new DataView(f.bytes.buffer)) as typeof sampleExpected;
    assert.equal(got.ok, true);
    assert.equal(got.name, '');
  });

  it('refuses views that are too short, with BadInputError', () => {
    const bytes = sampleBytes().bytes;
    for (const [view, off] of [[new DataView(bytes.buffer, 0, 103), 0], [new DataView(bytes.buffer), 1], [new DataView(bytes.buffer), -1]] as const) {
      assert.throws(() => dec.decode(view, off), (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'EBPF_BAD_INPUT' && /struct sample \(104 bytes\)/.test(e.message));
    }
  });
});

describe('compileDecoder: other kinds', () => {
  it('struct kinds (bpf/linking.bpf.c): floats, enum64, signed enum, anonymous union+struct, wide bitfields, 128-bit, pointers', () => {
    const btf = objectBtf('linking');
    const t = bpftoolBtf('linking').find((x) => x.kind === 'STRUCT' && x.name === 'kinds')!;
    const off = Object.fromEntries((t.members as { name: string; bits_offset: number }[]).map((m) => [m.name, m.bits_offset]));
    assert.equal(off.wide_bits, 448);
    const f = new Fixture(96);
    f.f32(off.f32! / 8, 1.5).f64(off.f64! / 8, -2.25).u64(off.w! / 8, 0x123456789n).i32(off.s! / 8, -2).i32(off.tagged! / 8, 42);
    f.u64(off.user_ptr! / 8, 0xffff888000001000n).u64(off.rptr! / 8, 0n);
    f.u32(off['(anon)']! / 8, 0xaabbccdd);
    f.bits(448, 40, 0x123456789an).bits(488, 24, 0xfedcban).bits(512, 33, -5n);
    f.u64(80, 7n).u64(88, 1n << 36n); // 2^100 + 7
    const got = compileDecoder(btf, t.id).decode(new DataView(f.bytes.buffer));
    assert.deepEqual(got, {
      f32: 1.5, f64: -2.25, w: 'WIDE_BIG', s: 'SGN_NEG', tagged: 42, user_ptr: 0xffff888000001000n, rptr: 0n,
      word: 0xaabbccdd, lo: 0xccdd, hi: 0xaabb,
      wide_bits: 0x123456789an, rest: 0xfedcban, neg_bits: -5n, u128: (1n << 100n) + 7n,
    });
    f.u64(off.w! / 8, 5n).i32(off.s! / 8, 3);
    const again = compileDecoder(btf, t.id).decode(new DataView(f.bytes.buffer)) as { w: unknown; s: unknown };
    assert.equal(again.w, 5n);
    assert.equal(again.s, 'SGN_POS');
  });

  it('anonymous unions of __sk_buff are merged into the parent', () => {
    const btf = objectBtf('tc_events');
    const got = compileDecoder(btf, btf.findByName('__sk_buff', 'struct')!.id).decode(new DataView(new ArrayBuffer(192)));
    assert.ok('flow_keys' in got && 'sk' in got && 'hwtstamp' in got);
    assert.equal(got.flow_keys, 0n);
    assert.ok(!('' in got));
  });

  it('arrays up to 64 values decode as one array literal, longer ones through a loop', () => {
    const btf = objectBtf('ringbuf_events');
    const dec = compileDecoder(btf, btf.findByName('rb_event', 'struct')!.id);
    const f = new Fixture(dec.size);
    for (let i = 0; i < 64; i++) f.u8(32 + i, i * 3);
    f.u64(0, 99n).u32(8, 60).u32(12, 1).u64(16, 5n).u32(24, 60).u32(28, 0);
    const got = dec.decode(new DataView(f.bytes.buffer)) as { packet: number[]; ts: bigint; caplen: number };
    assert.deepEqual(got.packet, Array.from({ length: 64 }, (_, i) => i * 3));
    assert.equal(got.ts, 99n);
    assert.equal(got.caplen, 60);
    assert.ok(!dec.source.includes('for (let i'), 'u8[64] is unrolled');
    const b = new BtfBuilder();
    const u8 = b.int('unsigned char', 1);
    const idx = b.int('__ARRAY_SIZE_TYPE__', 4);
    const big = b.struct('big', 65, [['a', b.array(u8, idx, 65), 0]]);
    const loop = compileDecoder(Btf.parse(b.build()), big);
    assert.ok(loop.source.includes('for (let i'), 'u8[65] loops');
    const bytes = new Uint8Array(65).map((_, i) => 200 - i);
    assert.deepEqual((loop.decode(new DataView(bytes.buffer)) as { a: number[] }).a, Array.from(bytes));
  });

  it('the view length a reader passes is the bound checked (a short one is refused, as a short view)', () => {
    const btf = objectBtf('ringbuf_events');
    const dec = compileDecoder(btf, btf.findByName('rb_event', 'struct')!.id);
    const v = new DataView(new ArrayBuffer(dec.size * 2));
    assert.doesNotThrow(() => dec.decode(v, dec.size, dec.size * 2));
    assert.throws(() => dec.decode(v, dec.size, dec.size * 2 - 1), /too short/);
  });

  it('legacy bitfields (INT with bit offset/size, kind_flag 0), enum and bool bitfields, unions', () => {
    const b = new BtfBuilder();
    const u32 = b.int('unsigned int', 4);
    const bits3 = b.int('unsigned int', 4, { bits: 3 });
    const sbits5 = b.int('int', 4, { signed: true, bits: 5 });
    const withOffset = b.int('unsigned int', 4, { bits: 4, offset: 2 });
    const boolT = b.int('_Bool', 1, { bool: true });
    const e = b.enum('mode', 4, [['OFF', 0], ['ON', 1], ['AUTO', 3]]);
    const e64 = b.enum64('big', 8, [['NEG', -1n]], true);
    const legacy = b.struct('legacy', 8, [['a', bits3, 0], ['b', sbits5, 3], ['c', withOffset, 8], ['d', u32, 32]]);
    const modern = b.struct('modern', 16, [['m', e, 0, 2], ['flag', boolT, 2, 1], ['neg', e64, 64, 0], ['span', u32, 29, 6]], true);
    const un = b.union('un', 4, [['w', u32, 0], ['', b.struct('', 4, [['lo', b.int('unsigned short', 2), 0], ['hi', b.int('unsigned short', 2), 16]]), 0]]);
    const btf = Btf.parse(b.build());
    const f = new Fixture(8).bits(0, 3, 6n).bits(3, 5, -3n).bits(10, 4, 9n).u32(4, 77);
    assert.deepEqual(compileDecoder(btf, legacy).decode(new DataView(f.bytes.buffer)), { a: 6, b: -3, c: 9, d: 77 });
    const g = new Fixture(16).bits(0, 2, 3n).bits(2, 1, 1n).i64(8, -1n).bits(29, 6, 0x2dn);
    assert.deepEqual(compileDecoder(btf, modern).decode(new DataView(g.bytes.buffer)), { m: 'AUTO', flag: true, neg: 'NEG', span: 0x2d });
    assert.deepEqual(compileDecoder(btf, un).decode(new DataView(new Fixture(4).u32(0, 0x11223344).bytes.buffer)), { w: 0x11223344, lo: 0x3344, hi: 0x1122 });
  });

  it('property names from BTF never reach the generated code unquoted', () => {
    const b = new BtfBuilder();
    const u8 = b.int('unsigned char', 1);
    const s = b.struct('evil', 3, [['__proto__', u8, 0], ['a-b"c', u8, 8], ['});throw 1;//', u8, 16]]);
    const got = compileDecoder(Btf.parse(b.build()), s).decode(new DataView(Uint8Array.of(1, 2, 3).buffer));
    assert.equal(Object.getPrototypeOf(got), Object.prototype);
    assert.deepEqual(Object.entries(got), [['__proto__', 1], ['a-b"c', 2], ['});throw 1;//', 3]]);
  });

  it('rejects non-structs, self-containing structs and members outside the struct', () => {
    const btf = objectBtf('decode_types');
    assert.throws(() => compileDecoder(btf, btf.findByName('__u32', 'typedef')!.id), UsageError);
    const b = new BtfBuilder();
    const int = b.int('int', 4);
    const self = b.struct('self', 8, [['x', int, 0], ['me', 2, 32]]); // id 2 contains itself
    const outside = b.struct('outside', 4, [['x', b.int('long', 8), 0]]);
    const built = Btf.parse(b.build());
    assert.throws(() => compileDecoder(built, self), (e: unknown) => e instanceof BadObjectError && /lies outside|nest more than/.test(e.message));
    assert.throws(() => compileDecoder(built, outside), (e: unknown) => e instanceof BadObjectError && /member \(offset 0, 8 bytes\) lies outside its 4-byte parent/.test(e.message));
  });
});

describe('compileDecoder on pathological types', () => {
  it('deeply nested arrays of structs compile to code proportional to the type, not to its expansion', () => {
    const b = new BtfBuilder();
    const u8 = b.int('unsigned char', 1);
    const idx = b.int('__ARRAY_SIZE_TYPE__', 4);
    const levels: number[] = [b.struct('s0', 1, [['x', u8, 0]])];
    for (let k = 1; k <= 12; k++) levels.push(b.struct(`s${k}`, 4 ** k, [['a', b.array(levels[k - 1]!, idx, 4), 0]]));
    const btf = Btf.parse(b.build());
    const t0 = performance.now();
    const deep = compileDecoder(btf, levels[12]!); // 4^12 values if unrolled
    assert.ok(deep.source.length < 20_000, `${deep.source.length} bytes of source`);
    assert.ok(performance.now() - t0 < 2000);
    const dec = compileDecoder(btf, levels[6]!);
    const bytes = new Uint8Array(dec.size).map((_, i) => i & 0xff);
    let got: unknown = dec.decode(new DataView(bytes.buffer));
    for (let k = 6; k >= 1; k--) got = (got as { a: unknown[] }).a[3];
    assert.deepEqual(got, { x: (dec.size - 1) & 0xff });
  });

  it('types that double at every level are refused quickly instead of exhausting memory', () => {
    const b = new BtfBuilder();
    let t = b.int('unsigned char', 1);
    let size = 1;
    for (let k = 0; k < 20; k++) {
      t = b.struct(`d${k}`, size * 2, [['a', t, 0], ['b', t, size * 8]]);
      size *= 2;
    }
    const t0 = performance.now();
    assert.throws(() => compileDecoder(Btf.parse(b.build()), t), (e: unknown) => (e as { code?: string }).code === 'EBPF_NOTSUP' && /more than 50000 fields/.test((e as Error).message));
    assert.ok(performance.now() - t0 < 2000);
  });
});

describe('compileDecoder speed', () => {
  it('decodes a 64-byte event struct at >= 1M/s', () => {
    const b = new BtfBuilder();
    const u8 = b.int('unsigned char', 1);
    const u16 = b.int('unsigned short', 2);
    const u32 = b.int('unsigned int', 4);
    const u64 = b.int('unsigned long long', 8);
    const char = b.int('char', 1, { signed: true });
    const idx = b.int('__ARRAY_SIZE_TYPE__', 4);
    const tag = b.array(char, idx, 8);
    const addr = b.array(u8, idx, 4);
    const ev = b.struct('ev64', 64, [
      ['ts', u64, 0], ['len', u32, 64], ['ifindex', u32, 96], ['mark', u32, 128], ['proto', u16, 160], ['flags', u16, 176],
      ['saddr', addr, 192], ['daddr', addr, 224], ['sport', u16, 256], ['dport', u16, 272], ['seq', u64, 320],
      ['cpu', u32, 384], ['pad', u32, 416], ['tag', tag, 448],
    ]);
    const dec = compileDecoder(Btf.parse(b.build()), ev);
    assert.equal(dec.size, 64);
    const buf = new Uint8Array(64 * 256);
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 31) & 0x7f;
    const view = new DataView(buf.buffer);
    let best = 0;
    let sink = 0;
    for (let round = 0; round < 5; round++) {
      const n = 300_000;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) sink += (dec.decode(view, (i & 255) * 64) as { len: number }).len;
      best = Math.max(best, n / ((performance.now() - t0) / 1000));
    }
    console.log(`compileDecoder: ${(best / 1e6).toFixed(2)}M decodes/s of a 64-byte struct (sink ${sink > 0})`);
    assert.ok(best >= 1_000_000, `${best.toFixed(0)} decodes/s`);
  });
});
