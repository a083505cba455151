import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadObjectError } from '../errors.js';
import { ElfFile } from '../elf/elf-file.js';
import { Btf } from './btf.js';
import { parseBtfExt } from './ext.js';
import { BtfBuilder, buildBtfExt } from './test-support/btf-builder.js';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { bpftoolBtf, objectNames, readelf, readObject, relocations, repoRoot } from '../elf/test-support/fixtures.js';

describe('.BTF.ext on the committed objects', () => {
  for (const name of objectNames()) {
    it(`${name}.bpf.o: func_info matches the FUNC symbols, record counts match .rel.BTF.ext`, () => {
      const elf = ElfFile.parse(readObject(name));
      const btf = Btf.parse(elf.section('.BTF')!.data);
      const ext = parseBtfExt(elf.section('.BTF.ext')!.data, btf);
      const re = readelf(name);
      const types = bpftoolBtf(name);
      // Every FUNC symbol of a code section has exactly one func_info record at its offset,
      // whose type is the BTF FUNC of the same name.
      const funcs = re.symbols.filter((s) => s.type === 2);
      const expected = new Map<string, { off: number; name: string }[]>();
      for (const f of funcs) {
        const sec = re.sections[f.section]!.name;
        expected.set(sec, [...(expected.get(sec) ?? []), { off: f.value, name: f.name }]);
      }
      assert.deepEqual([...ext.funcInfo.keys()].sort(), [...expected.keys()].sort());
      for (const [sec, want] of expected) {
        const got = ext.funcInfo.get(sec)!.map((r) => ({ off: r.insnOff, name: types.find((t) => t.id === r.typeId && t.kind === 'FUNC')?.name }));
        assert.deepEqual(got.sort((a, b) => a.off - b.off), want.sort((a, b) => a.off - b.off), sec);
      }
      // clang emits one R_BPF_64_NODYLD32 per func_info and line_info record, against the section.
      const rel = relocations(name).filter((r) => r.section === '.rel.BTF.ext');
      const perSection = new Map<string, number>();
      for (const r of rel) perSection.set(r.symbolName, (perSection.get(r.symbolName) ?? 0) + 1);
      const ours = new Map<string, number>();
      for (const m of [ext.funcInfo, ext.lineInfo]) for (const [sec, recs] of m) ours.set(sec, (ours.get(sec) ?? 0) + recs.length);
      assert.deepEqual(ours, perSection);
      assert.equal(ext.coreRelos.size, 0);
      // Line records point into the code and at valid strings.
      for (const [sec, recs] of ext.lineInfo) {
        const size = re.sections.find((s) => s.name === sec)!.size;
        for (const r of recs) {
          assert.ok(r.insnOff < size && r.insnOff % 8 === 0);
          const file = btf.strings.get(r.fileNameOff);
          assert.match(file, /\.(c|h)$/);
          // The recorded source line is a line of the named file (for the project's own files).
          const text = btf.strings.get(r.lineOff).trim();
          const local = [join(repoRoot, 'bpf', basename(file)), join(repoRoot, 'bpf', 'include', basename(file))].find((p) => existsSync(p));
          if (text !== '' && local) assert.ok(readFileSync(local, 'utf8').includes(text), `${text} in ${file}`);
        }
      }
    });
  }
});

describe('.BTF.ext errors', () => {
  const b = new BtfBuilder();
  const int = b.int('int', 4, { signed: true });
  const proto = b.funcProto(int, []);
  const fn = b.func('prog', proto);
  b.str('tc');
  b.str('file.c');
  b.str('return 0;');
  const btf = Btf.parse(b.build());
  const good = (): Uint8Array =>
    buildBtfExt((s) => b.str(s), {
      funcInfo: { tc: [[0, fn]] },
      lineInfo: { tc: [[0, b.str('file.c'), b.str('return 0;'), (3 << 10) | 5]] },
      coreRelo: { tc: [[8, int, b.str('0:1'), 0]] },
    });

  it('parses func_info, line_info and CO-RE records', () => {
    b.str('0:1');
    const ext = parseBtfExt(good(), Btf.parse(b.build()));
    assert.deepEqual(ext.funcInfo.get('tc'), [{ insnOff: 0, typeId: fn }]);
    assert.equal(ext.lineInfo.get('tc')![0]!.lineCol >>> 10, 3);
    assert.deepEqual(ext.coreRelos.get('tc'), [{ insnOff: 8, typeId: int, accessStrOff: b.str('0:1'), kind: 0 }]);
  });

  const bad = (f: (v: DataView) => void, re: RegExp): void => {
    const bytes = good();
    f(new DataView(bytes.buffer));
    const full = Btf.parse(b.build());
    assert.throws(() => parseBtfExt(bytes, full), (e: unknown) => e instanceof BadObjectError && re.test(e.message));
  };

  it('rejects malformed headers and records, naming the offset', () => {
    assert.throws(() => parseBtfExt(new Uint8Array(8), btf), /too short for its header/);
    bad((v) => v.setUint16(0, 1, true), /^section '.BTF.ext' at offset 0x0: bad .BTF.ext magic 0x1/);
    bad((v) => v.setUint32(4, 1000, true), /header length 1000/);
    bad((v) => v.setUint32(12, 4000, true), /func_info \(offset 0, length 4000\) runs past the end/);
    bad((v) => v.setUint32(32, 4, true), /func_info record size 4 is invalid/);
    bad((v) => v.setUint32(40, 0, true), /func_info for section 'tc' has no records/);
    bad((v) => v.setUint32(40, 100, true), /100 records of 8 bytes run past the end/);
    bad((v) => v.setUint32(36, 9999, true), /func_info section name offset 9999 past the end of the string table/);
    bad((v) => v.setUint32(48, int, true), /func_info type id 1 is not a BTF FUNC/);
    bad((v) => v.setUint32(48 + 4 + 8 + 8, 99999, true), /line_info string offsets/);
    bad((v) => v.setUint32(104, 200, true), /CO-RE relocation has unknown kind 200/);
  });
});
