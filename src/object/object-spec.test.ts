import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UsageError } from '../errors.js';
import { ObjectSpec } from './object-spec.js';
import type { MapSpec, ProgramSpec } from './types.js';
import { AttachType, MapFlags, MapType, ProgType } from './uapi.js';
import { bpftoolBtf, objdump, objectNames, readelf, readObject, repoRoot, type DumpFunction } from '../elf/test-support/fixtures.js';

const specs = new Map(objectNames().map((n) => [n, ObjectSpec.parse(readObject(n))]));
const spec = (n: string): ObjectSpec => specs.get(n)!;

/** Linked function order per program, from the C sources (libbpf appends callees depth first). */
const linkOrder: Record<string, string[]> = {
  tc_events: ['tc_events', 'parse_ports'],
  link_main: ['link_main', 'middle', 'leaf', 'global_helper', 'same_section', 'loop_cb'],
  link_second: ['link_second', 'leaf', 'hidden_helper'],
  link_xdp: ['link_xdp', 'global_helper'],
};

/** Programs per object: name → section, from the C sources. */
const programSections: Record<string, Record<string, string>> = {
  bench: { perf_bench: 'tc', rb_bench: 'tc' },
  decode_types: { emit_sample: 'tc' },
  legacy_maps: { legacy_prog: 'classifier' },
  linking: { link_main: 'tc', link_second: 'tc', link_xdp: 'xdp/custom', link_socket: 'socket/filter' },
  rejected: { rejected: 'tc' },
  ringbuf_events: { rb_reserve: 'tc', rb_output: 'tc' },
  sections: { s_tc: 'tc', s_tc_ingress: 'tc/ingress', s_tcx_ingress: 'tcx/ingress', s_tcx_egress: 'tcx/egress', s_classifier: 'classifier', s_action: 'action', s_xdp: 'xdp', s_socket: 'socket' },
  tc_events: { tc_events: 'tc' },
};

const slots = (f: DumpFunction): number => f.insns.reduce((n, i) => n + i.bytes.length / 8, 0);

/** What llvm-objdump/llvm-readelf say the linked program must look like. */
function expectedProgram(obj: string, prog: string) {
  const dump = objdump(obj);
  const re = readelf(obj);
  const fns = (linkOrder[prog] ?? [prog]).map((n) => dump.functions.find((f) => f.name === n)!);
  const starts = new Map<string, number>();
  let total = 0;
  for (const f of fns) {
    starts.set(f.name, total);
    total += slots(f);
  }
  const sectionOf = (sym: string): string | undefined => {
    const y = re.symbols.find((s) => s.name === sym);
    return y ? re.sections[y.section]?.name : undefined;
  };
  const symValue = (sym: string): number => re.symbols.find((s) => s.name === sym)!.value;
  const functionAt = (section: string, slot: number): string => {
    const f = dump.functions.find((x) => x.section === section && x.insns[0]!.index === slot);
    assert.ok(f, `a function starts at ${section}:${slot}`);
    return f.name;
  };
  const bytes = new Uint8Array(total * 8);
  const view = new DataView(bytes.buffer);
  const mapRefs: { insn: number; map: string; kind: string; offset: number }[] = [];
  for (const f of fns) {
    const first = f.insns[0]!.index;
    for (const insn of f.insns) {
      const at = starts.get(f.name)! + insn.index - first;
      bytes.set(insn.bytes, at * 8);
      const imm = view.getInt32(at * 8 + 4, true);
      const src = insn.bytes[1]! >> 4;
      let target: string | undefined;
      if (insn.bytes[0] === 0x85 && src === 1) {
        const r = insn.reloc;
        if (!r) target = functionAt(f.section, insn.index + imm + 1);
        else if (sectionOf(r.symbol) === r.symbol) target = functionAt(r.symbol, symValue(r.symbol) / 8 + imm + 1);
        else target = r.symbol;
      } else if (insn.bytes[0] === 0x18 && insn.reloc) {
        const r = insn.reloc;
        const sec = sectionOf(r.symbol)!;
        if (re.sections.find((s) => s.name === sec)!.flags & 4) {
          target = functionAt(sec, (symValue(r.symbol) + imm) / 8);
          view.setUint8(at * 8 + 1, (insn.bytes[1]! & 0x0f) | (4 << 4));
        } else {
          const isMap = sec === '.maps' || sec === 'maps';
          mapRefs.push({ insn: at, map: isMap ? r.symbol : sec, kind: isMap ? 'fd' : 'value', offset: isMap ? 0 : symValue(r.symbol) + imm });
          view.setInt32(at * 8 + 4, 0, true);
          view.setInt32(at * 8 + 12, 0, true);
        }
      }
      if (target !== undefined) view.setInt32(at * 8 + 4, starts.get(target)! - (at + 1), true);
    }
  }
  return { functions: fns.map((f) => ({ name: f.name, start: starts.get(f.name)! })), bytes, mapRefs };
}

describe('ObjectSpec programs (compared with llvm-objdump and llvm-readelf)', () => {
  for (const obj of objectNames()) {
    for (const prog of Object.keys(programSections[obj]!)) {
      it(`${obj}.bpf.o ${prog}: linked functions, instructions and map references`, () => {
        const p = spec(obj).program(prog);
        const want = expectedProgram(obj, prog);
        assert.deepEqual(p.functions, want.functions);
        assert.deepEqual(p.mapRefs.map((r) => ({ ...r })), want.mapRefs);
        assert.deepEqual(p.instructions, want.bytes);
      });
    }
    it(`${obj}.bpf.o: the programs and their sections`, () => {
      assert.deepEqual(Object.fromEntries(spec(obj).programs.map((p) => [p.name, p.section])), programSections[obj]);
    });
  }

  it('program types and attach types follow the section names', () => {
    const kinds = Object.fromEntries(
      [...spec('sections').programs, ...spec('linking').programs].map((p) => [p.name, [p.kind, p.type, p.expectedAttachType, p.direction]]),
    );
    assert.deepEqual(kinds, {
      s_tc: ['tc', ProgType.SCHED_CLS, undefined, undefined],
      s_tc_ingress: ['tc', ProgType.SCHED_CLS, undefined, 'ingress'],
      s_tcx_ingress: ['tcx', ProgType.SCHED_CLS, AttachType.TCX_INGRESS, 'ingress'],
      s_tcx_egress: ['tcx', ProgType.SCHED_CLS, AttachType.TCX_EGRESS, 'egress'],
      s_classifier: ['classifier', ProgType.SCHED_CLS, undefined, undefined],
      s_action: ['action', ProgType.SCHED_ACT, undefined, undefined],
      s_xdp: ['xdp', ProgType.XDP, undefined, undefined],
      s_socket: ['socket', ProgType.SOCKET_FILTER, undefined, undefined],
      link_main: ['tc', ProgType.SCHED_CLS, undefined, undefined],
      link_second: ['tc', ProgType.SCHED_CLS, undefined, undefined],
      link_xdp: ['xdp', ProgType.XDP, undefined, undefined],
      link_socket: ['socket', ProgType.SOCKET_FILTER, undefined, undefined],
    });
  });

  it('func_info: one record per linked function, at its start, naming its BTF FUNC', () => {
    for (const obj of objectNames()) {
      const types = bpftoolBtf(obj);
      for (const p of spec(obj).programs) {
        assert.ok(p.funcInfo, `${p.name} has func_info`);
        const v = new DataView(p.funcInfo.buffer, p.funcInfo.byteOffset, p.funcInfo.byteLength);
        const recs = Array.from({ length: p.funcInfo.length / 8 }, (_, i) => ({ start: v.getUint32(i * 8, true), name: types.find((t) => t.id === v.getUint32(i * 8 + 4, true) && t.kind === 'FUNC')?.name }));
        assert.deepEqual(recs, p.functions.map((f) => ({ start: f.start, name: f.name })), `${obj} ${p.name}`);
      }
    }
  });

  it('line_info: sorted, every function covered, lines taken from the sources', () => {
    for (const obj of objectNames()) {
      const s = spec(obj);
      for (const p of s.programs) {
        assert.ok(p.lineInfo, `${p.name} has line_info`);
        const v = new DataView(p.lineInfo.buffer, p.lineInfo.byteOffset, p.lineInfo.byteLength);
        const n = p.lineInfo.length / 16;
        const insns = Array.from({ length: n }, (_, i) => v.getUint32(i * 16, true));
        assert.deepEqual(insns, [...insns].sort((a, b) => a - b));
        assert.ok(insns.every((i) => i < p.instructions.length / 8));
        for (const f of p.functions) assert.ok(insns.includes(f.start), `${p.name}: line at the start of ${f.name}`);
        for (let i = 0; i < n; i++) {
          const file = s.btf!.strings.get(v.getUint32(i * 16 + 4, true));
          const text = s.btf!.strings.get(v.getUint32(i * 16 + 8, true)).trim();
          const local = [join(repoRoot, 'bpf', basename(file)), join(repoRoot, 'bpf', 'include', basename(file))].find((x) => existsSync(x));
          if (text && local) assert.ok(readFileSync(local, 'utf8').includes(text), `${text}`);
        }
      }
    }
  });
});

type MapFacts = Pick<MapSpec, 'name' | 'origin' | 'type' | 'keySize' | 'valueSize' | 'maxEntries' | 'flags' | 'pinning' | 'readonly'>;
const m = (name: string, origin: MapSpec['origin'], type: number, keySize: number, valueSize: number, maxEntries: number, flags: number, pinning: MapSpec['pinning'], readonly = false): MapFacts =>
  ({ name, origin, type, keySize, valueSize, maxEntries, flags, pinning, readonly });
const perCpu = MapType.PERCPU_ARRAY;
const data = (name: string, size: number, flags: number): MapFacts => m(name, 'data', MapType.ARRAY, 4, size, 1, flags, 'none', name.startsWith('.rodata'));
const RO = MapFlags.RDONLY_PROG;
const MM = MapFlags.MMAPABLE;

/** Map specs per object, from the C sources (BPFPIPE_* macros of bpf/include/bpfpipe.h expanded by hand). */
const expectedMaps: Record<string, MapFacts[]> = {
  tc_events: [
    m('events_meta', 'btf', MapType.ARRAY, 4, 4, 1, 0, 'by_name'),
    m('events', 'btf', MapType.PERF_EVENT_ARRAY, 4, 4, 256, 0, 'by_name'),
    m('events_drops', 'btf', perCpu, 4, 8, 64, 0, 'by_name'),
    m('counters', 'btf', perCpu, 4, 8, 3, 0, 'none'),
    data('.rodata', 4, RO | MM), data('.bss', 16, MM), data('.data', 8, MM),
  ],
  legacy_maps: [
    m('legacy_events', 'legacy', MapType.PERF_EVENT_ARRAY, 4, 4, 128, 0, 'global'),
    m('legacy_counts', 'legacy', MapType.ARRAY, 4, 8, 4, 0, 'global'),
    m('legacy_private', 'legacy', MapType.HASH, 4, 4, 16, 0, 'none'),
  ],
  linking: [
    m('outer', 'btf', MapType.ARRAY_OF_MAPS, 4, 4, 2, 0, 'none'),
    m('sized', 'btf', MapType.HASH, 4, 8, 16, MapFlags.NO_PREALLOC, 'none'),
    data('.bss', 28, MM), data('.data', 8, MM), data('.data.custom', 4, MM), data('.rodata.cfg', 4, RO | MM), data('.rodata', 25, RO | MM), data('.rodata.str1.1', 18, RO),
  ],
  ringbuf_events: [
    m('rb', 'btf', MapType.RINGBUF, 0, 0, 256 * 1024, 0, 'by_name'),
    m('rb_drops', 'btf', perCpu, 4, 8, 64, 0, 'by_name'),
    m('rb_meta', 'btf', MapType.ARRAY, 4, 4, 1, 0, 'by_name'),
    m('rb_counters', 'btf', perCpu, 4, 8, 3, 0, 'none'),
    data('.bss', 24, MM),
  ],
};

describe('ObjectSpec maps', () => {
  for (const [obj, want] of Object.entries(expectedMaps)) {
    it(`${obj}.bpf.o: map specs as declared in the C source`, () => {
      const got = spec(obj).maps.map((x): MapFacts => ({ name: x.name, origin: x.origin, type: x.type, keySize: x.keySize, valueSize: x.valueSize, maxEntries: x.maxEntries, flags: x.flags, pinning: x.pinning, readonly: x.readonly }));
      assert.deepEqual(got.sort((a, b) => a.name.localeCompare(b.name)), [...want].sort((a, b) => a.name.localeCompare(b.name)));
    });
  }

  it('global data holds the C initializers', () => {
    const le32 = (x: number) => Uint8Array.of(x & 0xff, (x >> 8) & 0xff, (x >> 16) & 0xff, x >>> 24);
    const le64 = (x: number) => Uint8Array.from([...le32(x), 0, 0, 0, 0]);
    const tc = spec('tc_events');
    assert.deepEqual(tc.map('.data').data, new TextEncoder().encode('bpfpipe\0'));
    assert.deepEqual(tc.map('.rodata').data, le32(128));
    assert.deepEqual(tc.map('.bss').data, new Uint8Array(16));
    const l = spec('linking');
    assert.deepEqual(l.map('.data').data, le64(5));
    assert.deepEqual(l.map('.data.custom').data, le32(7));
    assert.deepEqual(l.map('.rodata.cfg').data, le32(3));
    assert.deepEqual(l.map('.rodata').data, Uint8Array.from([...le64(10), ...new TextEncoder().encode('link_main len=%u\0')]));
    assert.deepEqual(l.map('.rodata.str1.1').data, new TextEncoder().encode('v=%llu\n\0calls=%u\n\0'));
  });

  it('BTF type ids of keys, values and data sections (bpftool ids)', () => {
    const types = bpftoolBtf('tc_events');
    const id = (kind: string, name: string) => types.find((t) => t.kind === kind && t.name === name)!.id;
    const tc = spec('tc_events');
    assert.equal(tc.map('counters').btfKeyTypeId, id('TYPEDEF', '__u32'));
    assert.equal(tc.map('counters').btfValueTypeId, id('TYPEDEF', '__u64'));
    assert.equal(tc.map('events').btfKeyTypeId, undefined, 'perf event arrays take no BTF key/value (as libbpf)');
    assert.equal(tc.map('.bss').btfValueTypeId, id('DATASEC', '.bss'));
    assert.equal(tc.map('.bss').btfKeyTypeId, undefined);
    const inner = spec('linking').map('outer').innerMap!;
    assert.deepEqual([inner.type, inner.keySize, inner.valueSize, inner.maxEntries], [MapType.ARRAY, 4, 8, 4]);
    assert.equal(spec('decode_types').map('.rodata.str1.1').btfValueTypeId, undefined);
  });

  it('eventType names the struct of BPFPIPE_EVENT_TYPE', () => {
    const id = (obj: string, name: string) => bpftoolBtf(obj).find((t) => t.kind === 'STRUCT' && t.name === name)!.id;
    assert.equal(spec('tc_events').eventType('events'), id('tc_events', 'event'));
    assert.equal(spec('decode_types').eventType('samples'), id('decode_types', 'sample'));
    assert.equal(spec('ringbuf_events').eventType('rb'), id('ringbuf_events', 'rb_event'));
    assert.equal(spec('tc_events').eventType('counters'), undefined);
    assert.equal(spec('legacy_maps').eventType('legacy_events'), undefined);
  });
});

describe('ObjectSpec API', () => {
  it('license from the license section', () => {
    assert.equal(spec('tc_events').license, 'GPL');
    assert.equal(spec('linking').license, 'Dual BSD/GPL');
    assert.ok(spec('linking').programs.every((p: ProgramSpec) => p.license === 'Dual BSD/GPL'));
  });

  it('unknown program and map names are usage errors listing what exists', () => {
    assert.throws(() => spec('tc_events').program('nope'), (e: unknown) => e instanceof UsageError && e.code === 'EBPF_USAGE' && e.message === "program 'nope' is not in the object (programs: tc_events)");
    assert.throws(() => spec('legacy_maps').map('nope'), (e: unknown) => e instanceof UsageError && /map 'nope' is not in the object \(maps: legacy_events, legacy_counts, legacy_private\)/.test(e.message));
  });

  it('is deterministic', () => {
    const again = ObjectSpec.parse(readObject('linking'));
    assert.deepEqual(again.programs, spec('linking').programs);
    assert.deepEqual(again.maps, spec('linking').maps);
    assert.deepEqual(again.btfBytes, spec('linking').btfBytes);
  });

  it('fixed-up BTF is exposed as btf and btfBytes with the same type ids', () => {
    const s = spec('tc_events');
    const types = bpftoolBtf('tc_events');
    assert.equal(s.btf!.count, types.length + 1);
    const bss = s.btf!.findByName('.bss', 'datasec') as { size: number };
    assert.equal(bss.size, 16);
    assert.equal(s.btf!.raw, s.btfBytes);
  });
});
