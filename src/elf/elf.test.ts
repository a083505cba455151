import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadObjectError } from '../errors.js';
import { ElfFile } from './elf-file.js';
import { relocTypeName } from './constants.js';
import { Reader, StringTable } from './reader.js';
import { buildElf, insns, I, SHF, SHT, STB, STT } from './test-support/elf-builder.js';
import { manifest, objectNames, readObject, readelf, relocations, sha256 } from './test-support/fixtures.js';

function badObject(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BadObjectError, `expected BadObjectError, got ${String(e)}`);
    assert.equal(e.code, 'EBPF_BAD_OBJECT');
    assert.match(e.message, re);
    return true;
  });
}

function patch(bytes: Uint8Array, f: (v: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  f(new DataView(copy.buffer));
  return copy;
}

describe('ELF reader on the committed objects (compared with llvm-readelf)', () => {
  it('the expectations were made from these objects', () => {
    for (const m of manifest()) assert.equal(sha256(readObject(m.name)), m.sha256, `bpf/${m.name}.bpf.o changed: run src/object/testdata/regen.sh`);
  });

  for (const name of objectNames()) {
    it(`${name}.bpf.o: sections, symbols and relocations`, () => {
      const elf = ElfFile.parse(readObject(name));
      const want = readelf(name);
      assert.deepEqual(
        elf.sections.map((s) => ({ index: s.index, name: s.name, type: s.type, flags: s.flags, offset: s.offset, size: s.size, link: s.link, info: s.info, addralign: s.addralign, entsize: s.entsize })),
        want.sections.map((s) => ({ ...s, flags: s.flags >>> 0 })),
      );
      assert.deepEqual(
        elf.symbols.map((y) => ({ name: y.name, value: y.value, size: y.size, bind: y.bind, type: y.type, other: y.visibility, section: y.section })),
        want.symbols,
      );
      const got = [];
      for (const s of elf.sections) {
        if (s.type !== SHT.REL) continue;
        for (const r of elf.relocationsFor(s.info)) {
          const sym = elf.symbols[r.symbol]!;
          got.push({ section: s.name, offset: r.offset, type: relocTypeName(r.type), symbolValue: sym.value, symbolName: sym.name });
        }
      }
      assert.deepEqual(got, relocations(name));
      for (const s of elf.sections) {
        if (s.type === SHT.NOBITS || s.index === 0) continue;
        assert.equal(s.data.length, s.size);
      }
    });
  }
});

describe('ELF reader errors', () => {
  const good = readObject('tc_events');

  it('rejects what is not an ELF file', () => {
    badObject(() => ElfFile.parse(new Uint8Array(0)), /^ELF header at offset 0x0: not an ELF file .*found nothing/);
    badObject(() => ElfFile.parse(new TextEncoder().encode('#!/bin/sh\necho hi\n')), /not an ELF file \(magic 7f 45 4c 46 expected, found 23 21 2f 62\)/);
  });

  it('rejects truncated headers', () => {
    for (const n of [4, 16, 40, 63]) badObject(() => ElfFile.parse(good.subarray(0, n)), /too short for an ELF64 header|truncated/);
  });

  it('rejects 32-bit, big-endian, non-relocatable and non-BPF objects with a fix', () => {
    badObject(() => ElfFile.parse(patch(good, (v) => v.setUint8(4, 1))), /ELF class 1 is not ELFCLASS64/);
    badObject(() => ElfFile.parse(patch(good, (v) => v.setUint8(5, 2))), /at offset 0x5: big-endian ELF object.*-target bpfel/);
    badObject(() => ElfFile.parse(patch(good, (v) => v.setUint8(5, 7))), /unknown ELF data encoding 7/);
    badObject(() => ElfFile.parse(patch(good, (v) => v.setUint16(16, 2, true))), /ELF type 2 is not a relocatable object \(ET_REL\)/);
    badObject(() => ElfFile.parse(patch(good, (v) => v.setUint16(18, 62, true))), /machine 62 is not eBPF \(EM_BPF = 247\)/);
    badObject(() => ElfFile.parse(buildElf({ sections: [], machine: 183 })), /machine 183 is not eBPF/);
  });

  it('rejects section header tables and contents outside the file', () => {
    const shoff = Number(new DataView(good.buffer, good.byteOffset).getBigUint64(40, true));
    badObject(() => ElfFile.parse(good.subarray(0, shoff + 40)), /section header 0 \(64 bytes\) runs past the end \(size \d+\)/);
    badObject(() => ElfFile.parse(good.subarray(0, shoff + 200)), /^ELF file at offset 0x[0-9a-f]+: 16 section headers of 64 bytes run past the end of the file/);
    badObject(() => ElfFile.parse(patch(good, (v) => v.setBigUint64(40, 0xffffffffffn, true))), /runs past the end/);
    badObject(() => ElfFile.parse(patch(good, (v) => v.setBigUint64(40, 0xffffffffffffffffn, true))), /e_shoff 0xffffffffffffffff is too large/);
    badObject(() => ElfFile.parse(patch(good, (v) => v.setBigUint64(40, 0n, true))), /no section headers/);
    // Section 3 ("tc"): size set past the end of the file.
    badObject(() => ElfFile.parse(patch(good, (v) => v.setBigUint64(shoff + 3 * 64 + 32, 0x100000n, true))), /^section header 3 at offset 0x[0-9a-f]+: contents \(offset 192, size 1048576\) run past the end of the file/);
    badObject(() => ElfFile.parse(patch(good, (v) => v.setUint16(58, 40, true))), /section header size 40 is not 64/);
    badObject(() => ElfFile.parse(patch(good, (v) => v.setUint16(62, 200, true))), /section name table index 200 is not a section/);
    badObject(() => ElfFile.parse(patch(good, (v) => v.setUint16(62, 2, true))), /section name table \(section 2\) has type 1, not SHT_STRTAB/);
  });

  it('names the string table when a name offset is out of range', () => {
    const shoff = Number(new DataView(good.buffer, good.byteOffset).getBigUint64(40, true));
    badObject(
      () => ElfFile.parse(patch(good, (v) => v.setUint32(shoff + 2 * 64, 99999, true))),
      /^section header 2 at offset 0x[0-9a-f]+: name of section 2 offset 99999 past the end of the string table \(size 294\)$/,
    );
  });

  it('checks symbols and relocations', () => {
    const base = {
      sections: [
        { name: 'tc', flags: SHF.ALLOC | SHF.EXECINSTR, data: insns(...I.ldImm64(1, 0), I.exit()) },
        { name: '.maps', flags: SHF.ALLOC | SHF.WRITE, data: new Uint8Array(32) },
      ],
      symbols: [
        { name: 'prog', section: 'tc', type: STT.FUNC, size: 24 },
        { name: 'm', section: '.maps', size: 32 },
      ],
    };
    const ok = ElfFile.parse(buildElf({ ...base, relocations: [{ target: 'tc', offset: 0, symbol: 'm', type: 1 }] }));
    assert.equal(ok.relocationsFor(ok.section('tc')!.index).length, 1);
    assert.equal(ok.symbols.find((y) => y.name === 'prog')?.type, STT.FUNC);
    badObject(
      () => ElfFile.parse(buildElf({ ...base, relocations: [{ target: 'tc', offset: 24, symbol: 'm', type: 1 }] })),
      /^section '.reltc' at offset 0x0: relocation 0 at offset 24 points outside section 'tc' \(size 24\)$/,
    );
    const elf = buildElf({ ...base, relocations: [{ target: 'tc', offset: 0, symbol: 'm', type: 1 }] });
    // Point the relocation's symbol index past the symbol table.
    const parsed = ElfFile.parse(elf);
    const rel = parsed.section('.reltc')!;
    badObject(() => ElfFile.parse(patch(elf, (v) => v.setUint32(rel.offset + 12, 77, true))), /relocation 0 refers to symbol 77, which is not in the symbol table/);
    const symtab = parsed.section('.symtab')!;
    badObject(() => ElfFile.parse(patch(elf, (v) => v.setUint32(symtab.offset + 24, 5000, true))), /^section '.symtab' at offset 0x18: name of symbol 1 offset 5000 past the end of the string table/);
    badObject(() => ElfFile.parse(patch(elf, (v) => v.setUint16(symtab.offset + 24 + 6, 300, true))), /symbol 1 refers to section 300, which does not exist/);
  });

  it('reads extended section numbering (e_shnum = 0, e_shstrndx = SHN_XINDEX)', () => {
    const elf = buildElf({ sections: [{ name: 'license', data: new TextEncoder().encode('GPL\0') }], symbols: [{ name: 'LICENSE', section: 'license', size: 4, bind: STB.GLOBAL }] });
    const v = new DataView(elf.buffer);
    const shoff = Number(v.getBigUint64(40, true));
    const shnum = v.getUint16(60, true);
    const shstrndx = v.getUint16(62, true);
    const ext = patch(elf, (w) => {
      w.setUint16(60, 0, true);
      w.setUint16(62, 0xffff, true);
      w.setBigUint64(shoff + 32, BigInt(shnum), true);
      w.setUint32(shoff + 40, shstrndx, true);
    });
    const parsed = ElfFile.parse(ext);
    assert.equal(parsed.sections.length, shnum);
    assert.equal(new TextDecoder().decode(parsed.section('license')!.data), 'GPL\0');
  });
});

describe('Reader and StringTable', () => {
  it('bounds-checks every read and names the place', () => {
    const r = new Reader(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9), "section '.x'", 0x100);
    assert.equal(r.u8(), 1);
    assert.equal(r.u16(), 0x0302);
    assert.equal(r.u32(), 0x07060504);
    assert.throws(() => r.u32('field'), /^BadObjectError: section '.x' at offset 0x107: field \(4 bytes\) runs past the end \(size 9\)$/);
    r.seek(0);
    assert.equal(r.u64(), 0x0807060504030201n);
    assert.throws(() => r.seek(10), BadObjectError);
    assert.throws(() => r.bytesAt(8, 2), BadObjectError);
    assert.throws(() => r.bytesAt(-1, 1), BadObjectError);
    assert.throws(() => r.sub(5, 5, 'sub'), BadObjectError);
    const big = new Reader(new Uint8Array(8).fill(0xff), 'x');
    assert.throws(() => big.u64n('size'), /size 0xffffffffffffffff is too large/);
    assert.equal(new Reader(Uint8Array.of(0xfe, 0xff, 0xff, 0xff), 'x').i32(), -2);
  });

  it('reads strings, rejects offsets past the end and unterminated strings', () => {
    const t = new StringTable(new TextEncoder().encode('\0abc\0h\u00e9llo\0zz'), "section '.strtab'");
    assert.equal(t.get(0), '');
    assert.equal(t.get(1), 'abc');
    assert.equal(t.get(2), 'bc');
    assert.equal(t.get(5), 'h\u00e9llo');
    assert.throws(() => t.get(999), /^BadObjectError: section '.strtab' at offset 0x0: string offset 999 past the end of the string table \(size 14\)$/);
    assert.throws(() => t.get(13), /not NUL-terminated/);
    assert.equal(t.has(1), true);
    assert.equal(t.has(13), false);
    assert.equal(t.has(-1), false);
  });
});
