/**
 * What each memory access of a program goes through, as far as the code shows (a forward pass over
 * each function, as the verifier tracks pointer types, much simplified): the stack (r10 and copies of
 * it plus constants), the context (r1 at entry), a map value or ring buffer record (what
 * bpf_map_lookup_elem, bpf_ringbuf_reserve and an ld_imm64 of a map give), or unknown. The compiled
 * path then writes only the inline path of that kind for the access (codegen-ops: stack, packet,
 * context, cached region) and the checked path through Memory for everything else.
 *
 * A kind only chooses which inline path is tried first: every inline path checks the region id and
 * the bounds itself, and whatever does not pass goes through Memory's full checks. So a kind that
 * is wrong costs speed, never safety or results.
 */
import { Cls } from './insn.js';
import type { Linked } from './interpreter.js';

export type Kind = 'any' | 'stack' | 'ctx' | 'other';

/** Registers r0..r10's kinds at one point of the program. */
type State = Kind[];

/** Helpers whose result points into a map value or ring buffer record (or is NULL). */
const VALUE_HELPERS = new Set([1 /* bpf_map_lookup_elem */, 131 /* bpf_ringbuf_reserve */]);

const meet = (a: State, b: State): State => a.map((k, r) => (k === b[r] ? k : 'any'));

/**
 * For each instruction, the kind of its base register (LDX: src; ST, STX: dst), for programs whose
 * functions start at `starts` and end at `end(start)` with forward jumps only (jumpTarget gives them).
 */
export function baseKinds(p: Linked, starts: number[], end: (a: number) => number, jumpTarget: (i: number) => number | undefined): Kind[] {
  const c = p.code;
  const out: Kind[] = new Array<Kind>(c.count).fill('any');
  for (const a of starts) {
    const b = end(a);
    const incoming = new Map<number, State>();
    const entry: State = new Array<Kind>(11).fill('any');
    entry[10] = 'stack';
    if (a === 0) entry[1] = 'ctx';
    let cur: State | undefined = entry;
    for (let i = a; i < b; i++) {
      const inc = incoming.get(i);
      if (inc !== undefined) {
        cur = cur === undefined ? inc : meet(cur, inc);
        incoming.delete(i);
      }
      const op = c.op[i]!;
      if (cur === undefined) {
        // not reached by falling through or by a jump seen so far (the jumps all go forward: none)
        if (op === 0x18) i++;
        continue;
      }
      const cls = op & 7;
      const dst = c.dst[i]!;
      const src = c.src[i]!;
      const s: State = cur;
      switch (cls) {
        case Cls.LD:
          if (op === 0x18) {
            s[dst] = c.mapRef[i] ? 'other' : 'any';
            i++;
          } else for (let r = 0; r <= 5; r++) s[r] = 'any'; // legacy packet loads: r0 and the scratch registers
          break;
        case Cls.LDX:
          out[i] = s[src]!;
          s[dst] = 'any';
          break;
        case Cls.ST:
          out[i] = s[dst]!;
          break;
        case Cls.STX:
          out[i] = s[dst]!;
          // atomics that fetch write the source register (CMPXCHG: r0)
          if ((op & 0xe0) === 0xc0) {
            if (c.imm[i] === 0xf1) s[0] = 'any';
            else if (c.imm[i]! & 1 || c.imm[i] === 0xe1) s[src] = 'any';
          }
          break;
        case Cls.ALU64: {
          const code = op >> 4;
          const fromReg = (op & 0x08) !== 0;
          if (code === 0xb && fromReg && c.off[i] === 0) s[dst] = s[src]!; // mov
          else if ((code === 0x0 || code === 0x1) && (!fromReg || s[src] === 'any')) {
            // pointer plus or minus a scalar keeps its region (the kind); anything else: unknown
          } else s[dst] = 'any';
          break;
        }
        case Cls.ALU:
          s[dst] = 'any';
          break;
        default: {
          // JMP, JMP32
          const code = op >> 4;
          if (cls === Cls.JMP && code === 0x8) {
            // a helper or a bpf-to-bpf call: r1-r5 clobbered; r0 the result; r6-r10 kept
            for (let r = 1; r <= 5; r++) s[r] = 'any';
            s[0] = src === 0 && VALUE_HELPERS.has(c.imm[i]!) ? 'other' : 'any';
            break;
          }
          if (code === 0x9) {
            cur = undefined; // exit
            break;
          }
          const t = jumpTarget(i);
          if (t !== undefined) {
            const prev = incoming.get(t);
            incoming.set(t, prev === undefined ? [...s] : meet(prev, s));
            if (code === 0x0) cur = undefined; // ja / gotol
          }
        }
      }
    }
  }
  return out;
}
