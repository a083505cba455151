/**
 * Map helpers written inline by the compiled path. At a bpf_map_lookup_elem call whose map is known
 * from the code (the ld_imm64 that last set r1 in the same basic block), the map's own lookup
 * (RuntimeMap.inlineLookup) is spelled out for a key on the stack: no helper call, no key view, no
 * dispatch. It is guarded at run time — r1 is that map's handle in the runtime's address space, r2
 * points into the stack with the whole key in bounds — and anything else calls the helper as before,
 * so the results (and faults) are the helper's in every case. Likewise a bpf_perf_event_output (map
 * in r2) to a slot that no reader has open: the ENOENT that most outputs get when nobody reads; and a
 * bpf_ringbuf_reserve or bpf_ringbuf_output (map in r1) that finds the ring buffer full: what every
 * output gets once nobody reads it.
 */
import { Cls } from './insn.js';
import type { Linked } from './interpreter.js';
import { E, type RuntimeMap } from './maps.js';
import { CTXLEN_MASK, perfMap, rbRecordBytes, ringbufMap } from './helpers.js';
import { CLOBBER } from './codegen-ops.js';

/** Names for values the generated code needs (bound by compile()). */
export type Bind = (value: unknown) => string;

/**
 * Where each basic block starts (jump targets, call targets and the instructions after calls and
 * jumps) and which slots are the second half of an ld_imm64: what mapOf() must not scan across.
 */
export interface BlockInfo {
  start: Uint8Array;
  second: Uint8Array;
}

export function blockInfo(p: Linked, jumpTarget: (i: number) => number | undefined): BlockInfo {
  const c = p.code;
  const start = new Uint8Array(c.count + 1);
  const second = new Uint8Array(c.count + 1);
  start[0] = 1;
  for (let i = 0; i < c.count; i++) {
    if (c.op[i] === 0x18) {
      second[i + 1] = 1;
      i++;
      continue;
    }
    const t = jumpTarget(i);
    if (t !== undefined) {
      if (t >= 0 && t <= c.count) start[t] = 1;
      start[i + 1] = 1;
    } else if (c.op[i] === 0x85 && c.src[i] === 1) {
      const callee = i + c.imm[i]! + 1;
      if (callee >= 0 && callee <= c.count) start[callee] = 1;
    }
  }
  return { start, second };
}

/**
 * Whether instruction `j` may write register `r` (1-5: any class that writes dst = r, a call, an
 * atomic fetching into r).
 */
function writesReg(p: Linked, j: number, r: number): boolean {
  const c = p.code;
  const op = c.op[j]!;
  const cls = op & 7;
  if (cls === Cls.ALU || cls === Cls.ALU64 || cls === Cls.LD || cls === Cls.LDX) return c.dst[j] === r;
  if (cls === Cls.STX) return (op & 0xe0) === 0xc0 && c.src[j] === r;
  if (cls === Cls.JMP) return op >> 4 === 0x8; // a call clobbers r1-r5
  return false;
}

/** The map register `r` (1-5) holds at instruction `i`, if the same basic block set it with an ld_imm64 of a map. */
function mapOf(p: Linked, b: BlockInfo, i: number, r: number): RuntimeMap | undefined {
  for (let j = i - 1; j >= 0; j--) {
    if (b.second[j]) continue;
    if (p.code.op[j] === 0x18 && p.code.dst[j] === r) return p.maps?.[j];
    if (writesReg(p, j, r) || b.start[j]) return undefined;
  }
  return undefined;
}

const KEY_GET: Record<number, string> = { 1: 'getUint8(t)', 2: 'getUint16(t, true)', 4: 'getUint32(t, true)' };

/**
 * bpf_map_lookup_elem of `m` inline, else `generic` (the helper call). Uses the compiled function's
 * OWN (env.mem is the maps' address space), SID/SL/SV (the stack) and the temporaries t, x, pv.
 */
function lookupCode(m: RuntimeMap, generic: string, bind: Bind): string {
  const f = m.inlineLookup();
  if (f === undefined) return generic;
  const keySize = f.kind === 'array' ? 4 : f.keySize;
  const guard = `OWN && r1h === ${m.handle.id | 0} && r2h === SID && (t = r2l >>> 0) <= SL - ${m.spec.keySize}`;
  let body: string;
  if (f.kind === 'array') {
    const id = f.perCpu ? `(${bind(Int32Array.from(f.regionIds))}[env.cpu] | 0)` : `${f.regionIds[0]! | 0}`;
    body = `x = SV.getUint32(t, true); if (x < ${f.maxEntries}) { r0l = (x * ${f.valueSize}) | 0; r0h = ${id}; } else { r0l = 0; r0h = 0; }`;
  } else {
    const values = `pv.values[${f.perCpu ? 'env.cpu' : '0'}].id | 0`;
    body = `pv = ${bind(f.entries)}.get(SV.${KEY_GET[keySize]}); r0l = 0; r0h = pv === undefined ? 0 : ${values};`;
  }
  return `if (${guard}) { ${body} ${CLOBBER} } else { ${generic} }`;
}

/** The helpers written inline, by helper id: the register that holds their map, and their code. */
const INLINE: Record<number, { reg: number; code: (m: RuntimeMap, generic: string, bind: Bind, helper: number) => string }> = {
  1: { reg: 1, code: lookupCode },
  25: { reg: 2, code: perfNoReaderCode },
  130: { reg: 1, code: ringbufFullCode },
  131: { reg: 1, code: ringbufFullCode },
};

/**
 * The code of a call of helper `helper` at instruction `i`: its inline form when the map it gets is
 * known from the code (mapOf), else `generic` (the helper call).
 */
export function mapHelperCode(p: Linked, b: BlockInfo, i: number, helper: number, generic: string, bind: Bind): string {
  const inline = INLINE[helper];
  const m = inline && mapOf(p, b, i, inline.reg);
  return m !== undefined ? inline!.code(m, generic, bind, helper) : generic;
}

/**
 * bpf_perf_event_output to perf event array `m` inline when the slot has no reader (-ENOENT, the
 * helper's answer when nothing reads), else `generic`. The guard spells out the helper's checks that
 * come first (perfOutputP, perfTail): r2 is m's handle, the flags have no bits but the slot and the
 * packet bytes to append, appended bytes come with the context in r1 and fit the packet, the slot
 * (BPF_F_CURRENT_CPU: the run's CPU) is in the map. Uses OWN, CID/CL (the context), pk and x.
 */
function perfNoReaderCode(m: RuntimeMap, generic: string, bind: Bind): string {
  const perf = perfMap(m);
  if (perf === undefined) return generic;
  const guard = [
    `OWN && r2h === ${m.handle.id | 0} && (r3h & ${~CTXLEN_MASK}) === 0`,
    `(r3h === 0 || (r1h === CID && CL !== 0 && pk === env.packet && r3h <= pk.size))`,
    `(x = r3l === -1 ? env.cpu : r3l >>> 0) < ${perf.spec.maxEntries} && ${bind(perf.rings)}[x] === undefined`,
  ].join(' && ');
  return `if (${guard}) { r0l = ${-E.ENOENT}; r0h = -1; ${CLOBBER} } else { ${generic} }`;
}

/**
 * bpf_ringbuf_reserve (helper 131) or bpf_ringbuf_output (130) of ring buffer `m` inline when the
 * record does not fit (as RecordRing.room: one more lost, a waiting reader woken; NULL, or -EAGAIN),
 * else `generic`. The guard spells out the helper's checks that come first (ringbufReserveP,
 * ringbufOutputP): r1 is m's handle, a size below 2^32, the flags (reserve: none; output: no bits but
 * the wake-up ones), the reservation no larger than the map allows, and for an output its bytes on the
 * stack and in bounds (the helper resolves them before it looks for room: a bad pointer faults). The
 * ring is read at run time: a reader's close gives the map a new one. Uses OWN, SID/SL, t, x and pv.
 */
function ringbufFullCode(m: RuntimeMap, generic: string, bind: Bind, helper: number): string {
  const rb = ringbufMap(m);
  if (rb === undefined) return generic;
  const common = `OWN && r1h === ${m.handle.id | 0}`;
  const full = `(pv = ${bind(rb)}.ring).used + ${bind(rbRecordBytes)}(x) > pv.capacity`;
  const guard =
    helper === 131
      ? `${common} && r2h === 0 && r3l === 0 && r3h === 0 && (x = r2l >>> 0) <= ${rb.spec.maxEntries - 8} && ${full}`
      : `${common} && r3h === 0 && (r4l & ~3) === 0 && r4h === 0 && r2h === SID && (t = r2l >>> 0) <= SL - (x = r3l >>> 0) && ${full}`;
  const ret = helper === 131 ? 'r0l = 0; r0h = 0;' : `r0l = ${-E.EAGAIN}; r0h = -1;`;
  return `if (${guard}) { pv.lost++; if (pv.onData !== undefined) pv.onData(); ${ret} ${CLOBBER} } else { ${generic} }`;
}
