/** ObjectSpec on small hand-built objects: the cases compilers rarely emit, and malformed input. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadObjectError, NotSupportedError } from '../errors.js';
import { buildElf, I, insns, SHF, SHT, STB, STT, type ElfDef, type SymbolDef } from '../elf/test-support/elf-builder.js';
import { BtfBuilder, buildBtfExt } from '../btf/test-support/btf-builder.js';
import { ObjectSpec } from './object-spec.js';
import { classifySection } from './program-section.js';
import { AttachType, MapType, ProgType } from './uapi.js';

const CODE = SHF.ALLOC | SHF.EXECINSTR;
const DATA = SHF.ALLOC | SHF.WRITE;
const R_64_64 = 1;
const R_ABS64 = 2;
const R_64_32 = 10;
const gpl = { name: 'license', flags: DATA, data: new TextEncoder().encode('GPL\0') };
const fn = (name: string, section: string, value: number, count: number, bind: number = STB.GLOBAL): SymbolDef => ({ name, section, value: value * 8, size: count * 8, type: STT.FUNC, bind });

function parse(def: ElfDef): ObjectSpec {
  return ObjectSpec.parse(buildElf(def));
}

function bad(def: ElfDef, re: RegExp): void {
  assert.throws(() => parse(def), (e: unknown) => {
    assert.ok(e instanceof BadObjectError, `expected BadObjectError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

describe('program sections', () => {
  it('classifySection', () => {
    const k = (s: string) => {
      const c = classifySection(s);
      return c && [c.kind, c.type, c.expectedAttachType, c.direction];
    };
    assert.deepEqual(k('tc'), ['tc', ProgType.SCHED_CLS, undefined, undefined]);
    assert.deepEqual(k('tc/egress'), ['tc', ProgType.SCHED_CLS, undefined, 'egress']);
    assert.deepEqual(k('tcx/egress'), ['tcx', ProgType.SCHED_CLS, AttachType.TCX_EGRESS, 'egress']);
    assert.deepEqual(k('classifier/ingress_filter'), ['classifier', ProgType.SCHED_CLS, undefined, undefined]);
    assert.deepEqual(k('action/x'), ['action', ProgType.SCHED_ACT, undefined, undefined]);
    assert.deepEqual(k('xdp/foo'), ['xdp', ProgType.XDP, undefined, undefined]);
    assert.deepEqual(k('socket/bar'), ['socket', ProgType.SOCKET_FILTER, undefined, undefined]);
    for (const s of ['tcx', 'tcx/foo', 'tc/foo', 'xdp/', 'xdp/devmap', 'xdp.frags', 'kprobe/x', 'socketx', '__proto__', 'toString', 'constructor', '']) {
      assert.equal(classifySection(s), undefined, s);
    }
  });

  it('an unknown program section is a bad object naming it', () => {
    bad({ sections: [{ name: 'kprobe/sys_open', flags: CODE, data: insns(I.movImm(0, 0), I.exit()) }, gpl], symbols: [fn('p', 'kprobe/sys_open', 0, 2)] },
      /^section 'kprobe\/sys_open' at offset 0x0: unknown program section 'kprobe\/sys_open' \(bpfpipe knows tc, tc\/ingress/);
  });
});

describe('linking', () => {
  it('links .text functions and same-section statics once each, with recursion', () => {
    // tc: prog (calls rec via .text reloc, calls local same-section), local (calls rec); .text: rec calls itself.
    const tc = insns(I.call(-1, 1), I.call(1, 1), I.exit(), I.call(-1, 1), I.exit());
    const text = insns(I.movImm(0, 1), I.call(-2, 1), I.exit());
    const s = parse({
      sections: [{ name: '.text', flags: CODE, data: text }, { name: 'tc', flags: CODE, data: tc }, gpl],
      symbols: [fn('prog', 'tc', 0, 3), fn('local', 'tc', 3, 2, STB.LOCAL), fn('rec', '.text', 0, 3, STB.LOCAL)],
      relocations: [
        { target: 'tc', offset: 0, symbol: 'section:.text', type: R_64_32 },
        { target: 'tc', offset: 24, symbol: 'section:.text', type: R_64_32 },
      ],
    });
    const p = s.program('prog');
    assert.deepEqual(p.functions, [{ name: 'prog', start: 0 }, { name: 'rec', start: 3 }, { name: 'local', start: 6 }]);
    const v = new DataView(p.instructions.buffer);
    assert.equal(v.getInt32(4, true), 3 - 1); // prog → rec
    assert.equal(v.getInt32(8 + 4, true), 6 - 2); // prog → local
    assert.equal(v.getInt32(4 * 8 + 4, true), 3 - 5); // rec → rec
    assert.equal(v.getInt32(6 * 8 + 4, true), 3 - 7); // local → rec
    assert.deepEqual(s.programs.map((x) => x.name), ['prog']);
    assert.equal(p.funcInfo, undefined);
    assert.equal(s.btf, undefined);
    assert.equal(s.eventType('x'), undefined);
  });

  it('takes function addresses (ld_imm64 against code) as BPF_PSEUDO_FUNC', () => {
    const tc = insns(...I.ldImm64(2, 8), I.exit());
    const text = insns(I.exit(), I.movImm(0, 0), I.exit());
    const p = parse({
      sections: [{ name: '.text', flags: CODE, data: text }, { name: 'tc', flags: CODE, data: tc }, gpl],
      symbols: [fn('prog', 'tc', 0, 3), fn('first', '.text', 0, 1, STB.LOCAL), fn('cb', '.text', 1, 2, STB.LOCAL)],
      relocations: [{ target: 'tc', offset: 0, symbol: 'section:.text', type: R_64_64 }],
    }).program('prog');
    assert.deepEqual(p.functions, [{ name: 'prog', start: 0 }, { name: 'cb', start: 3 }]);
    assert.equal(p.instructions[1]! >> 4, 4);
    assert.equal(new DataView(p.instructions.buffer).getInt32(4, true), 3 - 1);
  });

  const oneProg = (code: Uint8Array, extra: Partial<ElfDef> = {}): ElfDef => ({
    sections: [{ name: 'tc', flags: CODE, data: code }, gpl, ...(extra.sections ?? [])],
    symbols: [fn('prog', 'tc', 0, code.length / 8), ...(extra.symbols ?? [])],
    relocations: extra.relocations ?? [],
  });

  it('rejects calls into nowhere and broken relocations, naming the place', () => {
    bad(oneProg(insns(I.call(5, 1), I.movImm(0, 0), I.exit())), /^section 'tc' at offset 0x0: call at instruction 0 goes to instruction 6, where no function starts$/);
    bad(oneProg(insns(I.call(0, 1), I.movImm(0, 0), I.exit())), /call at instruction 0 goes to instruction 1, where no function starts/);
    bad(oneProg(insns(I.call(-1, 1), I.exit()), { symbols: [{ name: 'ext', section: 0, type: STT.FUNC }], relocations: [{ target: 'tc', offset: 0, symbol: 'ext', type: R_64_32 }] }),
      /refers to extern symbol 'ext'/);
    bad(oneProg(insns(I.movImm(1, 0), I.exit()), { sections: [{ name: '.data', flags: DATA, data: new Uint8Array(8) }], symbols: [{ name: 'x', section: '.data', size: 8 }], relocations: [{ target: 'tc', offset: 0, symbol: 'x', type: R_64_64 }] }),
      /R_BPF_64_64 relocation on instruction 0, which is not a 16-byte ld_imm64/);
    bad(oneProg(insns(...I.ldImm64(1, 0), I.exit()), { sections: [{ name: '.data', flags: DATA, data: new Uint8Array(8) }], symbols: [{ name: 'x', section: '.data', size: 8 }], relocations: [{ target: 'tc', offset: 0, symbol: 'x', type: R_ABS64 }] }),
      /unsupported relocation R_BPF_64_ABS64 on instruction 0/);
    bad(oneProg(insns(...I.ldImm64(1, 0), I.exit()), { relocations: [{ target: 'tc', offset: 0, symbol: 'section:license', type: R_64_64 }] }),
      /refers to 'license' in section 'license', which is neither a map nor global data/);
    bad(oneProg(insns(...I.ldImm64(1, 64), I.exit()), { sections: [{ name: '.data', flags: DATA, data: new Uint8Array(8) }], relocations: [{ target: 'tc', offset: 0, symbol: 'section:.data', type: R_64_64 }] }),
      /points to offset 64 of '.data' \(size 8\)/);
    bad(oneProg(insns(I.call(-1, 2), I.exit())), /calls a kfunc, which is not supported/);
    bad({ sections: [{ name: 'tc', flags: CODE, data: insns(I.exit(), I.exit()) }], symbols: [fn('a', 'tc', 0, 2), fn('b', 'tc', 1, 1)] }, /functions 'a' and 'b' overlap/);
    bad({ sections: [{ name: 'tc', flags: CODE, data: insns(I.exit()) }], symbols: [fn('a', 'tc', 0, 3)] }, /function 'a' \(offset 0, size 24\) does not fit the section \(size 8\)/);
    bad({ sections: [{ name: 'tc', flags: CODE, data: new Uint8Array(12) }], symbols: [] }, /code size 12 is not a multiple of the instruction size/);
  });

  it('global data references carry symbol value + immediate', () => {
    const p = parse(oneProg(insns(...I.ldImm64(1, 4), ...I.ldImm64(2, 0), I.exit()), {
      sections: [{ name: '.rodata', flags: SHF.ALLOC, data: new Uint8Array(16) }, { name: '.bss', type: SHT.NOBITS, flags: DATA, size: 0 }],
      symbols: [{ name: 'second', section: '.rodata', value: 8, size: 8 }],
      relocations: [{ target: 'tc', offset: 0, symbol: 'section:.rodata', type: R_64_64 }, { target: 'tc', offset: 16, symbol: 'second', type: R_64_64 }],
    }));
    assert.deepEqual(p.programs[0]!.mapRefs, [{ insn: 0, map: '.rodata', kind: 'value', offset: 4 }, { insn: 2, map: '.rodata', kind: 'value', offset: 8 }]);
    assert.deepEqual(p.maps.map((x) => x.name), ['.rodata'], 'an empty .bss makes no map');
  });
});

describe('legacy maps (iproute2 struct bpf_elf_map)', () => {
  const elfMap = (fields: number[], size = 40): Uint8Array => {
    const b = new Uint8Array(size);
    const v = new DataView(b.buffer);
    fields.forEach((x, i) => v.setUint32(i * 4, x, true));
    return b;
  };
  const legacy = (records: Uint8Array[], names: string[], btf?: Uint8Array): ElfDef => {
    const size = records[0]?.length ?? 0;
    const data = new Uint8Array(records.reduce((n, r) => n + r.length, 0));
    records.forEach((r, i) => data.set(r, i * size));
    return {
      sections: [{ name: 'classifier', flags: CODE, data: insns(...I.ldImm64(1, 0), I.exit()) }, { name: 'maps', flags: DATA, data }, gpl, ...(btf ? [{ name: '.BTF', data: btf }] : [])],
      symbols: [fn('cls', 'classifier', 0, 3), ...names.map((n, i) => ({ name: n, section: 'maps', value: i * size, size }))],
      relocations: [{ target: 'classifier', offset: 0, symbol: names[names.length - 1]!, type: R_64_64 }],
    };
  };

  it('reads records larger than 36 bytes and maps pinning', () => {
    const s = parse(legacy([elfMap([MapType.HASH, 4, 8, 100, 1, 0, 1]), elfMap([MapType.PERF_EVENT_ARRAY, 4, 4, 0, 0, 0, 2])], ['h', 'ev']));
    assert.deepEqual(s.maps.map((x) => [x.name, x.origin, x.type, x.keySize, x.valueSize, x.maxEntries, x.flags, x.pinning]), [
      ['h', 'legacy', MapType.HASH, 4, 8, 100, 1, 'object'],
      ['ev', 'legacy', MapType.PERF_EVENT_ARRAY, 4, 4, 0, 0, 'global'],
    ]);
    assert.deepEqual(s.programs[0]!.mapRefs, [{ insn: 0, map: 'ev', kind: 'fd', offset: 0 }]);
    // libbpf's 20-byte struct bpf_map_def: no pinning field.
    const small = parse(legacy([elfMap([MapType.ARRAY, 4, 4, 1, 0], 20)], ['a']));
    assert.equal(small.map('a').pinning, 'none');
  });

  it('uses iproute2 BTF key/value annotations (____btf_map_NAME)', () => {
    const b = new BtfBuilder();
    const u32 = b.int('unsigned int', 4);
    const u64 = b.int('unsigned long long', 8);
    b.struct('____btf_map_h', 16, [['key', u32, 0], ['value', u64, 64]]);
    const s = parse(legacy([elfMap([MapType.HASH, 4, 8, 10])], ['h'], b.build()));
    assert.equal(s.map('h').btfKeyTypeId, u32);
    assert.equal(s.map('h').btfValueTypeId, u64);
  });

  it('rejects bad records', () => {
    bad(legacy([elfMap([1, 4, 4, 1, 0, 0, 7])], ['m']), /map 'm' has pinning 7; only PIN_NONE/);
    bad(legacy([elfMap([1, 4, 4], 12)], ['m']), /map definitions of 12 bytes are too small/);
    const uneven = legacy([elfMap([1, 4, 4, 1]), elfMap([1, 4, 4, 1])], ['a', 'b']);
    uneven.sections[1] = { ...uneven.sections[1]!, data: new Uint8Array(71) };
    bad(uneven, /section size 71 is not a multiple of the 2 map definitions/);
  });
});

describe('BTF-related object errors', () => {
  it('BTF maps need .BTF; duplicate map names are rejected', () => {
    bad({ sections: [{ name: '.maps', flags: DATA, data: new Uint8Array(8) }], symbols: [{ name: 'm', section: '.maps', size: 8 }] }, /BTF-defined maps need the .BTF section: compile with clang -g/);
    bad({ sections: [{ name: 'maps', flags: DATA, data: new Uint8Array(20) }, { name: '.bss', type: SHT.NOBITS, flags: DATA, size: 8 }], symbols: [{ name: '.bss', section: 'maps', size: 20 }] }, /two maps are named '.bss'/);
  });

  /** An object whose program `prog` (2 insns, section tc) has BTF and a .BTF.ext with `ext`. */
  function withExt(ext: (b: BtfBuilder, ids: { fn: number; int: number }) => Uint8Array, code = insns(I.movImm(0, 0), I.exit())): ElfDef {
    const b = new BtfBuilder();
    const int = b.int('int', 4, { signed: true });
    const f = b.func('prog', b.funcProto(int, []));
    const extBytes = ext(b, { fn: f, int });
    return {
      sections: [{ name: 'tc', flags: CODE, data: code }, gpl, { name: '.BTF', data: b.build() }, { name: '.BTF.ext', data: extBytes }],
      symbols: [fn('prog', 'tc', 0, code.length / 8)],
    };
  }

  it('CO-RE relocations in a program are not supported (EBPF_NOTSUP); elsewhere they do not matter', () => {
    assert.throws(
      () => parse(withExt((b, { fn: f, int }) => buildBtfExt((s) => b.str(s), { funcInfo: { tc: [[0, f]] }, coreRelo: { tc: [[8, int, b.str('0:0'), 0]] } }))),
      (e: unknown) => e instanceof NotSupportedError && e.code === 'EBPF_NOTSUP' && /program 'prog' uses 1 CO-RE relocation\(s\)/.test(e.message),
    );
    let funcId = 0;
    const s = parse(withExt((b, { fn: f, int }) => {
      funcId = f;
      return buildBtfExt((x) => b.str(x), { funcInfo: { tc: [[0, f]] }, coreRelo: { other: [[0, int, b.str('0'), 0]] } });
    }));
    assert.equal(s.programs.length, 1);
    assert.deepEqual(Array.from(s.program('prog').funcInfo!), [0, 0, 0, 0, funcId, 0, 0, 0]);
  });

  it('func_info that misses a function is dropped, misaligned records are rejected', () => {
    const code = insns(I.call(1, 1), I.exit(), I.movImm(0, 0), I.exit());
    const def = withExt((b, { fn: f }) => buildBtfExt((s) => b.str(s), { funcInfo: { tc: [[0, f]] }, lineInfo: { tc: [[0, b.str('f.c'), b.str('x'), 1 << 10]] } }), code);
    def.symbols!.push(fn('sub', 'tc', 2, 2, STB.LOCAL));
    def.symbols![0] = fn('prog', 'tc', 0, 2);
    const p = parse(def).program('prog');
    assert.deepEqual(p.functions.map((f) => f.name), ['prog', 'sub']);
    assert.equal(p.funcInfo, undefined);
    assert.equal(p.lineInfo, undefined);
    bad(withExt((b, { fn: f }) => buildBtfExt((s) => b.str(s), { funcInfo: { tc: [[4, f]] } })), /func_info record for section 'tc' has instruction offset 4, not a multiple of 8/);
  });
});
