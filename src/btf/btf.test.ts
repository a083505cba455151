import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadObjectError } from '../errors.js';
import { ElfFile } from '../elf/elf-file.js';
import { Btf } from './btf.js';
import type { BtfType } from './kinds.js';
import { BtfBuilder, asKind } from './test-support/btf-builder.js';
import { bpftoolBtf, objectNames, readObject, type BpftoolType } from '../elf/test-support/fixtures.js';

function objectBtf(name: string): Btf {
  return Btf.parse(ElfFile.parse(readObject(name)).section('.BTF')!.data);
}

const linkages = ['static', 'global', 'extern'];

/** Our type in `bpftool -j btf dump` form. */
function asBpftool(t: BtfType): Record<string, unknown> {
  const base = { id: t.id, kind: t.kind.toUpperCase(), name: t.name || '(anon)' };
  switch (t.kind) {
    case 'int':
      return { ...base, size: t.size, bits_offset: t.bitOffset, nr_bits: t.bits, encoding: t.signed ? 'SIGNED' : t.char ? 'CHAR' : t.bool ? 'BOOL' : '(none)' };
    case 'ptr':
    case 'typedef':
    case 'const':
    case 'volatile':
    case 'restrict':
    case 'type_tag':
      return { ...base, type_id: t.type };
    case 'array':
      return { ...base, type_id: t.type, index_type_id: t.indexType, nr_elems: t.nelems };
    case 'struct':
    case 'union':
      return {
        ...base,
        size: t.size,
        vlen: t.members.length,
        members: t.members.map((m) => ({ name: m.name || '(anon)', type_id: m.type, bits_offset: m.bitOffset, ...(m.bitfieldSize ? { bitfield_size: m.bitfieldSize } : {}) })),
      };
    case 'enum':
      return { ...base, encoding: t.signed ? 'SIGNED' : 'UNSIGNED', size: t.size, vlen: t.values.length, values: t.values.map((v) => ({ name: v.name, val: v.value })) };
    case 'enum64':
      return { ...base, encoding: t.signed ? 'SIGNED' : 'UNSIGNED', size: t.size, vlen: t.values.length, values: t.values.map((v) => ({ name: v.name, val: Number(v.value) })) };
    case 'fwd':
      return { ...base, fwd_kind: t.union ? 'union' : 'struct' };
    case 'func':
      return { ...base, type_id: t.type, linkage: linkages[t.linkage] };
    case 'func_proto':
      return { ...base, ret_type_id: t.returnType, vlen: t.params.length, params: t.params.map((p) => ({ name: p.name || '(anon)', type_id: p.type })) };
    case 'var':
      return { ...base, type_id: t.type, linkage: linkages[t.linkage] };
    case 'datasec':
      return { ...base, size: t.size, vlen: t.vars.length, vars: t.vars.map((v) => ({ type_id: v.type, offset: v.offset, size: v.size })) };
    case 'float':
      return { ...base, size: t.size };
    case 'decl_tag':
      return { ...base, type_id: t.type, component_idx: t.componentIdx };
    case 'void':
      return base;
  }
}

function byName(types: BpftoolType[], kind: string, name: string): BpftoolType {
  const t = types.find((x) => x.kind === kind && x.name === name);
  assert.ok(t, `bpftool has no ${kind} ${name}`);
  return t;
}

function badObject(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BadObjectError, `expected BadObjectError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

describe('BTF parser on the committed objects (compared with bpftool btf dump)', () => {
  for (const name of objectNames()) {
    it(`${name}.bpf.o: every type`, () => {
      const btf = objectBtf(name);
      const want = bpftoolBtf(name);
      assert.equal(btf.count, want.length + 1);
      assert.deepEqual(btf.types.slice(1).map(asBpftool), want);
    });
  }

  it('covers every BTF kind across the fixtures', () => {
    const kinds = new Set<string>();
    for (const name of objectNames()) for (const t of objectBtf(name).types) kinds.add(t.kind);
    assert.deepEqual([...kinds].sort(), ['array', 'const', 'datasec', 'decl_tag', 'enum', 'enum64', 'float', 'func', 'func_proto', 'fwd', 'int', 'ptr', 'restrict', 'struct', 'type_tag', 'typedef', 'union', 'var', 'void', 'volatile']);
  });
});

describe('Btf lookups', () => {
  const btf = objectBtf('decode_types');
  const want = bpftoolBtf('decode_types');

  it('findByName with and without kind', () => {
    assert.equal(btf.findByName('sample')?.id, byName(want, 'STRUCT', 'sample').id);
    assert.equal(btf.findByName('sample', 'struct')?.id, byName(want, 'STRUCT', 'sample').id);
    assert.equal(btf.findByName('sample', 'union'), undefined);
    assert.equal(btf.findByName('color', 'enum')?.id, byName(want, 'ENUM', 'color').id);
    assert.equal(btf.findByName('no_such_type'), undefined);
    assert.equal(btf.findAllByName('__u32', 'typedef').length, want.filter((t) => t.kind === 'TYPEDEF' && t.name === '__u32').length);
  });

  it('resolve skips typedefs and modifiers', () => {
    const u32 = byName(want, 'TYPEDEF', '__u32');
    assert.equal(btf.resolve(u32.id).id, u32.type_id);
    assert.equal(btf.resolve(u32.id).kind, 'int');
    const l = objectBtf('tc_events');
    const snaplen = l.findByName('snaplen', 'var')!;
    assert.equal(snaplen.kind, 'var');
    const r = l.resolve((snaplen as { type: number }).type); // const volatile __u32
    assert.equal(r.kind, 'int');
    assert.equal(r.name, 'unsigned int');
  });

  it('sizeof agrees with the sizes bpftool prints', () => {
    for (const name of objectNames()) {
      const b = objectBtf(name);
      for (const t of bpftoolBtf(name)) {
        if (t.kind === 'STRUCT' || t.kind === 'UNION' || t.kind === 'INT' || t.kind === 'ENUM' || t.kind === 'ENUM64' || t.kind === 'FLOAT') {
          assert.equal(b.sizeof(t.id), t.size, `${name} [${t.id}]`);
        }
      }
    }
    const sample = btf.findByName('sample', 'struct')!;
    const nameMember = asKind(sample, 'struct').members.find((m) => m.name === 'name')!;
    assert.equal(btf.sizeof(nameMember.type), 12); // char name[12]
    assert.equal(btf.sizeof(byName(want, 'TYPEDEF', '__u64').id), 8);
    assert.equal(btf.sizeof(byName(want, 'PTR', '(anon)').id), 8);
    badObject(() => btf.sizeof(byName(want, 'FUNC', 'emit_sample').id), /has no size/);
  });

  it('alignment follows the C layout rules (libbpf btf__align_of)', () => {
    const a = (name: string, kind: 'struct' | 'typedef' | 'int') => btf.alignment(btf.findByName(name, kind)!.id);
    assert.equal(a('__u8', 'typedef'), 1);
    assert.equal(a('__u16', 'typedef'), 2);
    assert.equal(a('__u64', 'typedef'), 8);
    assert.equal(a('point', 'struct'), 4);
    assert.equal(a('sample', 'struct'), 8);
    const b = new BtfBuilder();
    const u8 = b.int('u8', 1);
    const u32 = b.int('u32', 4);
    const packed = b.struct('packed', 5, [['a', u8, 0], ['b', u32, 8]]);
    const natural = b.struct('natural', 8, [['a', u8, 0], ['b', u32, 32]]);
    const arr = b.array(natural, u32, 3);
    const parsed = Btf.parse(b.build());
    assert.equal(parsed.alignment(packed), 1);
    assert.equal(parsed.alignment(natural), 4);
    assert.equal(parsed.alignment(arr), 4);
    assert.equal(parsed.sizeof(arr), 24);
  });

  it('typeName gives C-like names', () => {
    const l = objectBtf('tc_events');
    assert.equal(l.typeName(l.findByName('event', 'struct')!.id), 'struct event');
    const ev = asKind(l.findByName('event', 'struct'), 'struct');
    assert.equal(l.typeName(ev.members.find((m) => m.name === 'tag')!.type), 'char[8]');
    assert.equal(l.typeName(0), 'void');
  });

  it('typeById rejects ids that do not exist', () => {
    badObject(() => btf.typeById(btf.count), /type id \d+ does not exist/);
    badObject(() => btf.typeById(-1), /does not exist/);
  });
});

describe('BTF cycles and malformed input', () => {
  it('cyclic typedef chains fail instead of hanging', () => {
    const b = new BtfBuilder();
    // [1] typedef a -> [2], [2] const -> [3], [3] typedef b -> [1]
    b.typedef('a', 2);
    b.modifier('const', 3);
    b.typedef('b', 1);
    // [4] array of itself
    b.raw('', 3, 0, false, 0, [4, 5, 2]);
    b.int('int', 4, { signed: true }); // [5]
    const btf = Btf.parse(b.build());
    badObject(() => btf.resolve(1), /chain of more than 32/);
    badObject(() => btf.sizeof(1), /more than 32 deep|chain of more than 32/);
    badObject(() => btf.sizeof(4), /more than 32 deep/);
    badObject(() => btf.alignment(4), /more than 32 deep/);
    assert.match(btf.typeName(4), /…/);
  });

  const valid = (): Uint8Array => {
    const b = new BtfBuilder();
    const i = b.int('int', 4, { signed: true });
    b.struct('s', 4, [['x', i, 0]]);
    return b.build();
  };
  const patch = (f: (v: DataView, bytes: Uint8Array) => void): Uint8Array => {
    const bytes = valid();
    f(new DataView(bytes.buffer), bytes);
    return bytes;
  };

  it('names the section and offset', () => {
    assert.equal(Btf.parse(valid()).count, 3);
    badObject(() => Btf.parse(new Uint8Array(10)), /^section '.BTF' at offset 0x0: BTF is 10 bytes, too short for the BTF header/);
    badObject(() => Btf.parse(patch((v) => v.setUint16(0, 0x1234, true))), /bad BTF magic 0x1234/);
    badObject(() => Btf.parse(patch((v) => v.setUint16(0, 0x9feb, true))), /big-endian BTF/);
    badObject(() => Btf.parse(patch((v) => v.setUint8(2, 2))), /unsupported BTF version 2/);
    badObject(() => Btf.parse(patch((v) => v.setUint32(4, 8, true))), /header length 8/);
    badObject(() => Btf.parse(patch((v) => v.setUint32(12, 4000, true))), /type section \(offset 0, length 4000\) runs past the end/);
    badObject(() => Btf.parse(patch((v) => v.setUint32(20, 4000, true))), /string section .* runs past the end/);
    badObject(() => Btf.parse(patch((v) => v.setUint32(8, 2, true))), /not 4-byte aligned|overlaps|runs past/);
    badObject(() => Btf.parse(patch((_v, b) => (b[b.length - 1] = 0x41))), /does not end with a NUL byte/);
    badObject(() => Btf.parse(patch((v, b) => (b[v.getUint32(16, true) + 24] = 0x41))), /must start with an empty string/);
    // First type's name_off: the example from the contract.
    badObject(
      () => Btf.parse(patch((v) => v.setUint32(24, 999, true))),
      /^section '.BTF' at offset 0x18: name of type \[1\] offset 999 past the end of the string table \(size \d+\)$/,
    );
    badObject(() => Btf.parse(patch((v) => v.setUint32(28, 25 << 24, true))), /^section '.BTF' at offset 0x18: type \[1\] has unknown BTF kind 25$/);
    badObject(() => Btf.parse(patch((v) => v.setUint32(32, 3, true))), /type \[1\] INT 'int' has size 3/);
    // struct member type 77 does not exist
    badObject(() => Btf.parse(patch((v) => v.setUint32(24 + 16 + 12 + 4, 77, true))), /type \[2\] STRUCT 's' member 0 type refers to type 77, but there are only 3 types/);
    // struct vlen larger than the data
    badObject(() => Btf.parse(patch((v) => v.setUint32(24 + 16 + 4, (4 << 24) | 50, true))), /members \(600 bytes\) runs past the end/);
    // member outside the struct
    badObject(() => Btf.parse(patch((v) => v.setUint32(24 + 16 + 12 + 8, 64, true))), /member 'x' at bit offset 64 lies outside the 4-byte struct/);
  });

  it('checks kind-specific references', () => {
    const b = new BtfBuilder();
    const i = b.int('int', 4, { signed: true });
    b.func('f', i); // FUNC pointing at an INT
    badObject(() => Btf.parse(b.build()), /FUNC 'f' refers to type 1, which is not a FUNC_PROTO/);
    const c = new BtfBuilder();
    const j = c.int('int', 4);
    c.datasec('.data', 4, [[j, 0, 4]]);
    badObject(() => Btf.parse(c.build()), /DATASEC '.data' lists type 1 \(INT\), not a VAR/);
    const d = new BtfBuilder();
    const s = d.struct('s', 4, [['x', d.int('int', 4), 0]]);
    d.declTag('tag', s, 5);
    badObject(() => Btf.parse(d.build()), /DECL_TAG component index 5 is out of range/);
  });
});
