import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadObjectError } from '../errors.js';
import { ElfFile } from '../elf/elf-file.js';
import { Btf } from './btf.js';
import { fixupBtf, type FixupContext } from './fixup.js';
import { BtfBuilder, asKind } from './test-support/btf-builder.js';
import { objectNames, readelf, readObject } from '../elf/test-support/fixtures.js';

/** The fixup inputs, taken from llvm-readelf's view of the object (not from our ELF reader). */
function readelfContext(name: string): FixupContext {
  const re = readelf(name);
  return {
    sectionSize: (sec) => re.sections.find((s) => s.name === sec)?.size,
    variable: (sec, v) => {
      const index = re.sections.find((s) => s.name === sec)?.index;
      const sym = re.symbols.find((y) => y.section === index && y.name === v && y.type !== 3);
      return sym ? { offset: sym.value, hidden: (sym.other & 3) === 2 } : undefined;
    },
    hiddenFunctions: new Set(re.symbols.filter((y) => y.type === 2 && y.bind !== 0 && (y.other & 3) === 2).map((y) => y.name)),
  };
}

describe('BTF fixup for BPF_BTF_LOAD', () => {
  for (const name of objectNames()) {
    it(`${name}.bpf.o: DATASEC sizes and VAR offsets come from the ELF sections and symbols`, () => {
      const raw = Btf.parse(ElfFile.parse(readObject(name)).section('.BTF')!.data);
      const re = readelf(name);
      const fixed = Btf.parse(fixupBtf(raw, readelfContext(name)));
      assert.equal(fixed.count, raw.count);
      for (const t of fixed.types) {
        const before = raw.types[t.id]!;
        if (t.kind !== 'datasec') {
          if (t.kind === 'func' && before.kind === 'func' && before.linkage !== t.linkage) {
            assert.equal(t.linkage, 0, 'hidden global functions become static');
            assert.ok(readelfContext(name).hiddenFunctions!.has(t.name));
            continue;
          }
          assert.deepEqual(t, before, `type [${t.id}] unchanged`);
          continue;
        }
        const sec = re.sections.find((s) => s.name === t.name)!;
        assert.equal(t.size, sec.size, `${t.name} size`);
        for (let i = 1; i < t.vars.length; i++) assert.ok(t.vars[i - 1]!.offset + t.vars[i - 1]!.size <= t.vars[i]!.offset, `${t.name} sorted, no overlap`);
        for (const v of t.vars) {
          const vt = fixed.typeById(v.type);
          const sym = re.symbols.find((y) => y.section === sec.index && y.name === vt.name);
          assert.equal(v.offset, sym?.value, `${t.name}: ${vt.name}`);
        }
        assert.deepEqual(t.vars.map((v) => v.type).sort(), asKind(before, 'datasec').vars.map((v) => v.type).sort());
      }
      assert.deepEqual(fixed.strings.bytes, raw.strings.bytes);
    });
  }

  it('the hidden global function of linking.bpf.o becomes static', () => {
    const raw = Btf.parse(ElfFile.parse(readObject('linking')).section('.BTF')!.data);
    const fixed = Btf.parse(fixupBtf(raw, readelfContext('linking')));
    assert.equal((raw.findByName('hidden_helper', 'func') as { linkage: number }).linkage, 1);
    assert.equal((fixed.findByName('hidden_helper', 'func') as { linkage: number }).linkage, 0);
    assert.equal((fixed.findByName('global_helper', 'func') as { linkage: number }).linkage, 1);
  });

  const ctx = (sizes: Record<string, number>, vars: Record<string, number>): FixupContext => ({
    sectionSize: (s) => sizes[s],
    variable: (_s, v) => (v in vars ? { offset: vars[v]!, hidden: false } : undefined),
  });

  it('fails clearly when the ELF does not back a DATASEC', () => {
    const b = new BtfBuilder();
    const int = b.int('int', 4);
    const a = b.variable('a', int);
    b.datasec('.data', 0, [[a, 0, 4]]);
    const btf = Btf.parse(b.build());
    assert.throws(() => fixupBtf(btf, ctx({}, {})), (e: unknown) => e instanceof BadObjectError && /DATASEC '.data': the object has no ELF section '.data'/.test(e.message));
    assert.throws(() => fixupBtf(btf, ctx({ '.data': 4 }, {})), /no ELF symbol for variable 'a'/);
    assert.throws(() => fixupBtf(btf, ctx({ '.data': 4 }, { a: 2 })), /variable 'a' \(offset 2, size 4\) runs past the section size 4/);
    const ok = Btf.parse(fixupBtf(btf, ctx({ '.data': 8 }, { a: 4 })));
    assert.deepEqual(asKind(ok.typeById(3), 'datasec').vars, [{ type: a, offset: 4, size: 4 }]);
  });

  it('lays out .kconfig externs and turns .ksyms externs into allocated variables (as libbpf)', () => {
    const b = new BtfBuilder();
    const int = b.int('int', 4, { signed: true });
    const u8 = b.int('unsigned char', 1);
    const u64 = b.int('unsigned long long', 8);
    const hz = b.variable('CONFIG_HZ', int, 2);
    const flag = b.variable('CONFIG_FLAG', u8, 2);
    const big = b.variable('CONFIG_BIG', u64, 2);
    const kconfig = b.datasec('.kconfig', 0, [[hz, 0, 4], [flag, 0, 1], [big, 0, 8]]);
    const proto = b.funcProto(int, [['', int]]);
    const kfunc = b.func('bpf_kfunc', proto, 2);
    const ksym = b.variable('some_ksym', u64, 2);
    const ksyms = b.datasec('.ksyms', 0, [[kfunc, 0, 0], [ksym, 0, 8]]);
    const btf = Btf.parse(b.build());
    const fixed = Btf.parse(fixupBtf(btf, ctx({}, {})));
    // .kconfig: descending alignment, then ascending size: BIG (8) at 0, HZ (4) at 8, FLAG (1) at 12.
    const kc = asKind(fixed.typeById(kconfig), 'datasec');
    assert.equal(kc.size, 13);
    assert.deepEqual(kc.vars.map((v) => [fixed.typeById(v.type).name, v.offset]), [['CONFIG_BIG', 0], ['CONFIG_HZ', 8], ['CONFIG_FLAG', 12]]);
    for (const id of [hz, flag, big]) assert.equal((fixed.typeById(id) as { linkage: number }).linkage, 1);
    // .ksyms: 4-byte int slots; the function replaced by an appended dummy variable.
    assert.equal(fixed.count, btf.count + 1);
    const dummy = fixed.typeById(btf.count);
    assert.equal(dummy.kind, 'var');
    assert.equal(dummy.name, 'dummy_ksym');
    const ks = asKind(fixed.typeById(ksyms), 'datasec');
    assert.deepEqual(ks.vars, [{ type: dummy.id, offset: 0, size: 4 }, { type: ksym, offset: 4, size: 4 }]);
    assert.equal(ks.size, 8);
    assert.equal((fixed.typeById(kfunc) as { linkage: number }).linkage, 1);
    assert.equal(asKind(fixed.typeById(proto), 'func_proto').params[0]!.name, 'dummy_ksym');
    assert.equal(fixed.resolve((fixed.typeById(ksym) as { type: number }).type).kind, 'int');
  });
});
