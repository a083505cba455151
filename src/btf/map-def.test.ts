import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadObjectError } from '../errors.js';
import { Btf } from './btf.js';
import { parseBtfMapDef } from './map-def.js';
import { BtfBuilder } from './test-support/btf-builder.js';

/** Builds the BTF clang emits for a libbpf map definition struct. */
function mapDef(build: (b: BtfBuilder, h: { uint: (n: number) => number; u32: number; u64: number }) => [string, number][]): { btf: Btf; id: number } {
  const b = new BtfBuilder();
  const int = b.int('int', 4, { signed: true });
  const idx = b.int('__ARRAY_SIZE_TYPE__', 4);
  const u32 = b.typedef('__u32', b.int('unsigned int', 4));
  const u64 = b.typedef('__u64', b.int('unsigned long long', 8));
  const uint = (n: number): number => b.ptr(b.array(int, idx, n)); // __uint(name, n) = int (*name)[n]
  const fields = build(b, { uint, u32, u64 });
  const id = b.struct('', fields.length * 8, fields.map(([n, t], i) => [n, t, i * 64]));
  return { btf: Btf.parse(b.build()), id };
}

const bad = (f: () => unknown, re: RegExp): void => {
  assert.throws(f, (e: unknown) => e instanceof BadObjectError && re.test(e.message));
};

describe('BTF map definitions', () => {
  it('reads __uint and __type attributes', () => {
    const { btf, id } = mapDef((b, { uint, u32, u64 }) => [
      ['type', uint(1)],
      ['max_entries', uint(1024)],
      ['key', b.ptr(u32)],
      ['value', b.ptr(u64)],
      ['map_flags', uint(1)],
      ['pinning', uint(1)],
      ['numa_node', uint(2)],
    ]);
    const def = parseBtfMapDef(btf, id, 'm');
    assert.deepEqual({ ...def }, {
      type: 1, keySize: 4, valueSize: 8, maxEntries: 1024, flags: 1, pinning: 1,
      keyTypeId: btf.findByName('__u32')!.id, valueTypeId: btf.findByName('__u64')!.id, numaNode: 2, mapExtra: undefined, inner: undefined,
    });
  });

  it('reads key_size/value_size and checks them against key/value types', () => {
    const { btf, id } = mapDef((_b, { uint }) => [['type', uint(2)], ['key_size', uint(4)], ['value_size', uint(16)], ['max_entries', uint(1)]]);
    const def = parseBtfMapDef(btf, id, 'm');
    assert.equal(def.keySize, 4);
    assert.equal(def.valueSize, 16);
    assert.equal(def.keyTypeId, undefined);
    const mismatch = mapDef((b, { uint, u32 }) => [['type', uint(2)], ['key_size', uint(8)], ['key', b.ptr(u32)]]);
    bad(() => parseBtfMapDef(mismatch.btf, mismatch.id, 'm'), /^section '.maps': map 'm': key_size 8 does not match the size of the key type \(4\)$/);
  });

  it('reads an inner map from __array(values, struct inner)', () => {
    const b = new BtfBuilder();
    const int = b.int('int', 4, { signed: true });
    const idx = b.int('__ARRAY_SIZE_TYPE__', 4);
    const uint = (n: number): number => b.ptr(b.array(int, idx, n));
    const inner = b.struct('inner', 16, [['type', uint(2), 0], ['max_entries', uint(4), 64]]);
    const values = b.array(b.ptr(inner), idx, 0);
    const outer = b.struct('', 24, [['type', uint(12), 0], ['max_entries', uint(2), 64], ['values', values, 128]]);
    const def = parseBtfMapDef(Btf.parse(b.build()), outer, 'outer');
    assert.equal(def.type, 12);
    assert.equal(def.valueSize, 4);
    assert.equal(def.inner?.type, 2);
    assert.equal(def.inner?.maxEntries, 4);
  });

  it('rejects what libbpf rejects, naming the map', () => {
    const unknown = mapDef((_b, { uint }) => [['type', uint(1)], ['colour', uint(3)]]);
    bad(() => parseBtfMapDef(unknown.btf, unknown.id, 'm'), /map 'm': unknown attribute 'colour'/);
    const pin = mapDef((_b, { uint }) => [['type', uint(1)], ['pinning', uint(2)]]);
    bad(() => parseBtfMapDef(pin.btf, pin.id, 'm'), /pinning 2 is not LIBBPF_PIN_NONE \(0\) or LIBBPF_PIN_BY_NAME \(1\)/);
    const notPtr = mapDef((_b, { u32 }) => [['type', u32]]);
    bad(() => parseBtfMapDef(notPtr.btf, notPtr.id, 'm'), /attribute 'type' must be declared with __uint\(\)/);
    const keyNotPtr = mapDef((_b, { u32 }) => [['key', u32]]);
    bad(() => parseBtfMapDef(keyNotPtr.btf, keyNotPtr.id, 'm'), /attribute 'key' must be declared with __type\(\)/);
    const values = mapDef((b, { uint, u32 }) => [['type', uint(1)], ['values', b.array(b.ptr(u32), u32, 0)]]);
    bad(() => parseBtfMapDef(values.btf, values.id, 'm'), /'values' is only valid for maps of maps and program arrays/);
    const twice = mapDef((_b, { uint }) => [['type', uint(1)], ['type', uint(2)]]);
    bad(() => parseBtfMapDef(twice.btf, twice.id, 'm'), /attribute 'type' is given twice/);
    const b = new BtfBuilder();
    const notStruct = b.int('int', 4);
    bad(() => parseBtfMapDef(Btf.parse(b.build()), notStruct, 'm'), /definition is a INT, expected a struct/);
  });
});
